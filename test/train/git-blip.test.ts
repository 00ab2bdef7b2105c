// GIT and BLIP through the Trainer and the model round trips: a fresh model of each fixture's config with the
// fixture's tokenizer and processor fits the synthetic shapes (the loss falls); the Hugging Face GIT fine-tuning
// guide's TrainingArguments run as written (minus the hub push, and fp16, which needs CUDA) with a WER
// compute_metrics; bf16 autocast trains; save -> fromPretrained reproduces every tensor, tied weights omitted.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { datasets } from '../../lib/data/index.js';
import { native } from '../../lib/native.js';
import { AutoModelForVision2Seq } from '../../lib/models/auto.js';
import { BlipForConditionalGeneration } from '../../lib/models/blip.js';
import { GitForCausalLM } from '../../lib/models/git.js';
import { wer } from '../../lib/metrics/index.js';
import { ImageProcessor, loadTokenizer } from '../../lib/processing/index.js';
import { Trainer } from '../../lib/train/trainer.js';
import { describeWithFixtures } from '../helpers/fixtures.js';
import { lineSink, lossRecorder, outDirs } from './helpers.js';

const outDir = outDirs();
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

describeWithFixtures('GIT and BLIP in the Trainer', (fixtures) => {
  for (const [name, Class] of [['git-tiny', GitForCausalLM], ['blip-tiny', BlipForConditionalGeneration]] as const) {
    const dir = join(fixtures, 'models', name);
    const config = (): Record<string, unknown> => JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));

    it(`${name}: a fresh model fits the synthetic shapes; captions start with the model's start token`, async () => {
      const model = await Class.fromConfig(config(), { seed: 0 });
      const tokenizer = await loadTokenizer(dir);
      const image_processor = await ImageProcessor.fromPretrained(dir);
      const rec = lossRecorder();
      const trainer = new Trainer({
        model, tokenizer, image_processor, train_dataset: datasets.synthetic({ size: 32, seed: 1, imageSize: 32, maxShapes: 1 }),
        log: lineSink().log, callbacks: [rec.cb],
        args: { output_dir: outDir(), max_steps: 20, per_device_train_batch_size: 8, learning_rate: 1e-2, lr_scheduler_type: 'constant', save_strategy: 'no', logging_steps: 5, disable_tqdm: true },
      });
      const out = await trainer.fit();
      expect(out.global_step).toBe(20);
      expect(rec.losses.every(Number.isFinite)).toBe(true);
      expect(mean(rec.losses.slice(-3))).toBeLessThan(0.5 * mean(rec.losses.slice(0, 3)));
      const px = await image_processor.preprocess([datasets.synthetic({ size: 1, seed: 3, imageSize: 32 }).item(0).image as never]);
      const { sequences } = await model.generate(px, { max_length: 10 });
      expect(sequences[0]![0]).toBe(model.specialTokenIds.decoder_start_token_id);
    });

    it(`${name}: save -> fromPretrained reproduces every tensor (tied weights omitted), and AutoModelForVision2Seq reloads it`, async () => {
      const model = await Class.fromPretrained(dir);
      const out = outDir();
      await model.save(out);
      const saved = (await native().readSafetensors(join(out, 'model.safetensors'))).tensors;
      const original = (await native().readSafetensors(join(dir, 'model.safetensors'))).tensors;
      expect(Object.keys(saved).sort()).toEqual(Object.keys(original).sort());
      if (name === 'blip-tiny') expect(Object.keys(saved)).not.toContain('text_decoder.cls.predictions.decoder.weight');
      for (const [k, t] of Object.entries(original)) expect(Buffer.from(saved[k]!.data.buffer).equals(Buffer.from(t.data.buffer)), k).toBe(true);
      const again = await AutoModelForVision2Seq.fromPretrained(out);
      expect(again).toBeInstanceOf(Class);
      expect(again.config).toEqual(model.config);
      expect(existsSync(join(out, 'generation_config.json'))).toBe(true);
    });
  }

  it('blip-tiny: bf16 autocast trains (finite losses, the loss falls)', async () => {
    const dir = join(fixtures, 'models', 'blip-tiny');
    const model = await BlipForConditionalGeneration.fromConfig(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')), { seed: 0 });
    const rec = lossRecorder();
    const trainer = new Trainer({
      model, tokenizer: await loadTokenizer(dir), image_processor: await ImageProcessor.fromPretrained(dir),
      train_dataset: datasets.synthetic({ size: 16, seed: 2, imageSize: 32, maxShapes: 1 }), log: lineSink().log, callbacks: [rec.cb],
      args: { output_dir: outDir(), max_steps: 12, per_device_train_batch_size: 8, learning_rate: 3e-3, lr_scheduler_type: 'constant', save_strategy: 'no', bf16: true, disable_tqdm: true },
    });
    await trainer.fit();
    expect(rec.losses.every(Number.isFinite)).toBe(true);
    expect(mean(rec.losses.slice(-3))).toBeLessThan(mean(rec.losses.slice(0, 3)));
  });

  it("git-tiny: the HF image-captioning guide's TrainingArguments run as written with a WER compute_metrics, and resume", async () => {
    const dir = join(fixtures, 'models', 'git-tiny');
    const model = await GitForCausalLM.fromPretrained(dir);
    const tokenizer = await loadTokenizer(dir);
    const image_processor = await ImageProcessor.fromPretrained(dir);
    const output_dir = outDir();
    let calls = 0;
    const compute_metrics = (p: { predictions: string[]; references: string[][] }): Record<string, number> => {
      calls++;
      return { wer_score: wer(p.predictions, p.references.map((r) => r[0]!)) };
    };
    // The guide's arguments (scaled down: epochs, batch, steps), minus push_to_hub and fp16 (CUDA only).
    const args = {
      output_dir, learning_rate: 5e-5, num_train_epochs: 2, per_device_train_batch_size: 4, per_device_eval_batch_size: 4,
      gradient_accumulation_steps: 2, save_total_limit: 3, eval_strategy: 'steps' as const, eval_steps: 2, save_strategy: 'steps' as const, save_steps: 2,
      logging_steps: 2, remove_unused_columns: false, label_names: ['labels'], load_best_model_at_end: true, metric_for_best_model: 'wer_score',
      greater_is_better: false, disable_tqdm: true,
    };
    const train_dataset = datasets.synthetic({ size: 16, seed: 4, imageSize: 32, maxShapes: 1 });
    const eval_dataset = datasets.synthetic({ size: 4, seed: 5, imageSize: 32, maxShapes: 1 });
    const trainer = new Trainer({ model, tokenizer, image_processor, train_dataset, eval_dataset, compute_metrics, log: lineSink().log, args });
    const out = await trainer.fit();
    expect(out.global_step).toBe(4);
    expect(calls).toBeGreaterThanOrEqual(2);
    const state = JSON.parse(readFileSync(join(output_dir, 'trainer_state.json'), 'utf8'));
    expect(state.log_history.some((h: Record<string, unknown>) => typeof h.eval_wer_score === 'number')).toBe(true);
    expect(existsSync(join(output_dir, 'checkpoint-2'))).toBe(true);
    // Resuming from the step-2 checkpoint reproduces the step-4 loss of the uninterrupted run.
    const lossAt4 = (h: Record<string, unknown>[]): unknown => h.find((e) => e.step === 4 && typeof e.loss === 'number')?.loss;
    const resumed = new Trainer({
      model: await GitForCausalLM.fromPretrained(dir), tokenizer, image_processor, train_dataset, eval_dataset, compute_metrics, log: lineSink().log,
      args: { ...args, output_dir: outDir() },
    });
    await resumed.fit({ resume_from_checkpoint: join(output_dir, 'checkpoint-2') });
    expect(typeof lossAt4(state.log_history)).toBe('number');
    expect(lossAt4(resumed.state.log_history as Record<string, unknown>[])).toBe(lossAt4(state.log_history));
  });
});
