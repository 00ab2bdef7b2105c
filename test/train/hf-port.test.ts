// The HF captioning tutorial's Trainer lines, ported (issue "Porting a Python captioning script"):
// Seq2SeqTrainingArguments(...), Seq2SeqTrainer(model=..., args=..., processing_class=..., data_collator=...),
// labels padded to max_length, trainer.lastPredictions.
import { describe, expect, it, vi } from 'vitest';
import * as root from '../../lib/index.js';
import { InvalidArgumentError } from '../../lib/errors.js';
import { Tensor } from '../../lib/tensor.js';
import { Trainer, default_data_collator, type CaptionFeature } from '../../lib/train/trainer.js';
import { Seq2SeqTrainingArguments, resolveTrainingArguments } from '../../lib/train/training-args.js';
import { lossRecorder, outDirs, tinySetup } from './helpers.js';

const outDir = outDirs();

describe('Seq2SeqTrainer / Seq2SeqTrainingArguments (HF names)', () => {
  it('are exported from the package root; Seq2SeqTrainer is the Trainer', () => {
    expect(root.Seq2SeqTrainer).toBe(Trainer);
    expect(root.Trainer).toBe(Trainer);
    expect(root.Seq2SeqTrainingArguments).toBe(Seq2SeqTrainingArguments);
    expect(root.default_data_collator).toBe(default_data_collator);
  });

  it('new Seq2SeqTrainingArguments({...}) validates at once and holds every argument', () => {
    const args = new Seq2SeqTrainingArguments({ output_dir: 'out', predict_with_generate: true, generation_max_length: 16, evaluation_strategy: 'epoch' });
    expect(args).toMatchObject({ output_dir: 'out', predict_with_generate: true, generation_max_length: 16, eval_strategy: 'epoch', learning_rate: 5e-5, pad_to_max_length: false });
    expect(args.to_dict()).toEqual(resolveTrainingArguments({ output_dir: 'out', predict_with_generate: true, generation_max_length: 16, eval_strategy: 'epoch' }));
    expect(JSON.parse(JSON.stringify(args))).toEqual(args.to_dict());
    expect(() => new Seq2SeqTrainingArguments({ output_dir: 'out', learning_rat: 1 } as never)).toThrow(/did you mean 'learning_rate'/);
    expect(() => new Seq2SeqTrainingArguments({ output_dir: 'out', pad_to_max_length: 'yes' as never })).toThrow(InvalidArgumentError);
  });

  it('trains with Seq2SeqTrainingArguments as args and processing_class for the tokenizer', async () => {
    const { model, tokenizer, image_processor, train, evalSet } = await tinySetup({ trainSize: 16, evalSize: 4 });
    const args = new Seq2SeqTrainingArguments({ output_dir: outDir(), max_steps: 2, per_device_train_batch_size: 8, per_device_eval_batch_size: 4, predict_with_generate: true, generation_max_length: 8, save_strategy: 'no' });
    const trainer = new root.Seq2SeqTrainer({ model, args, train_dataset: train, eval_dataset: evalSet, processing_class: tokenizer, image_processor, log: () => {} });
    expect(trainer.tokenizer).toBe(tokenizer);
    expect(trainer.processing_class).toBe(tokenizer);
    expect(trainer.args.max_steps).toBe(2);
    expect(trainer.lastPredictions).toBeNull();
    expect((await trainer.train()).global_step).toBe(2);
    const out = await trainer.predict(evalSet);
    expect(trainer.lastPredictions).toBe(out);
    expect(trainer.lastPredictions!.predictions).toHaveLength(4);
    expect(trainer.lastPredictions!.metrics).toHaveProperty('test_loss');
  });
});

describe('processing_class', () => {
  it('takes a tokenizer, an image processor, or { tokenizer, image_processor }', async () => {
    const { model, tokenizer, image_processor } = await tinySetup();
    const args = { output_dir: outDir() };
    const both = new Trainer({ model, args, processing_class: { tokenizer, image_processor }, log: () => {} });
    expect(both.tokenizer).toBe(tokenizer);
    expect(both.image_processor).toBe(image_processor);
    const proc = new Trainer({ model, args, tokenizer, processing_class: image_processor, log: () => {} });
    expect(proc.image_processor).toBe(image_processor);
    expect(proc.processing_class).toBe(image_processor);
    // The same tokenizer under both names is fine; two different ones are not (HF raises too).
    expect(new Trainer({ model, args, tokenizer, processing_class: { tokenizer, image_processor }, log: () => {} }).tokenizer).toBe(tokenizer);
    const other = Object.create(tokenizer) as typeof tokenizer;
    expect(() => new Trainer({ model, args, tokenizer: other, image_processor, processing_class: tokenizer, log: () => {} })).toThrow(/processing_class/);
    expect(() => new Trainer({ model, args, processing_class: 42 as never, log: () => {} })).toThrow(InvalidArgumentError);
    expect(() => new Trainer({ model, args, processing_class: { tokenizer: {} as never }, image_processor, log: () => {} })).toThrow(/processing_class\.tokenizer/);
  });
});

describe('data_collator and labels padded to max_length', () => {
  const args = (dir: string, extra: Record<string, unknown> = {}) => ({ output_dir: dir, max_steps: 3, per_device_train_batch_size: 8, learning_rate: 3e-3, save_strategy: 'no' as const, max_target_length: 24, ...extra });

  async function run(extra: Record<string, unknown>, opts: Record<string, unknown> = {}) {
    const s = await tinySetup({ trainSize: 16 });
    const rec = lossRecorder();
    const shapes: number[][] = [];
    const real = s.model.trainStep.bind(s.model);
    vi.spyOn(s.model, 'trainStep').mockImplementation(async (batches, o) => {
      for (const b of batches) shapes.push([...b.labels!.shape]);
      return real(batches, o);
    });
    const trainer = new Trainer({ model: s.model, tokenizer: s.tokenizer, image_processor: s.image_processor, train_dataset: s.train, callbacks: [rec.cb], log: () => {}, args: args(outDir(), extra), ...opts });
    await trainer.fit();
    return { losses: rec.losses, shapes, tokenizer: s.tokenizer };
  }

  it('default_data_collator gives the loader\'s batches; a custom collator sees HF-style features', async () => {
    const plain = await run({});
    const features: CaptionFeature[][] = [];
    const collated = await run({}, {
      data_collator: (f: CaptionFeature[]) => {
        features.push(f);
        return default_data_collator(f);
      },
    });
    expect(collated.losses).toEqual(plain.losses);
    expect(collated.shapes).toEqual(plain.shapes);
    const f = features[0]![0]!;
    expect(f.pixel_values.shape).toEqual([3, 16, 16]);
    expect(f.pixel_values.dtype).toBe('float32');
    expect(f.labels[f.labels.length - 1]).toBe(plain.tokenizer.eos_token_id); // the end token, no padding
    expect(f.labels).not.toContain(-100);
    expect(f.labels.slice(0, -1)).toEqual(plain.tokenizer.encode(f.text));
    expect(f.captions).toContain(f.text);
  });

  it('pad_to_max_length pads labels to max_target_length with -100, leaving the loss unchanged', async () => {
    const plain = await run({});
    const padded = await run({ pad_to_max_length: true });
    expect(plain.shapes.every(([, t]) => t! < 24)).toBe(true);
    expect(padded.shapes.every(([b, t]) => b === 8 && t === 24)).toBe(true);
    padded.losses.forEach((l, i) => expect(l).toBeCloseTo(plain.losses[i]!, 4));
  });

  it('checks what a data_collator returns', async () => {
    const s = await tinySetup({ trainSize: 8 });
    const bad = (c: (f: CaptionFeature[]) => unknown) => new Trainer({
      model: s.model, tokenizer: s.tokenizer, image_processor: s.image_processor, train_dataset: s.train, log: () => {},
      args: args(outDir(), { max_steps: 1 }), data_collator: c as never,
    }).fit();
    await expect(bad((f) => ({ pixel_values: f[0]!.pixel_values, labels: Tensor.int64([[1]]) }))).rejects.toThrow(/pixel_values/);
    await expect(bad((f) => ({ ...default_data_collator(f), labels: Tensor.int64([[1, 2]]) }))).rejects.toThrow(/labels/);
    expect(() => new Trainer({ model: s.model, tokenizer: s.tokenizer, image_processor: s.image_processor, args: args(outDir()), data_collator: 'x' as never })).toThrow(InvalidArgumentError);
  });
});
