import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Dataset, datasets } from '../../lib/data/index.js';
import type { DataItem } from '../../lib/data/types.js';
import { InvalidArgumentError, NonFiniteLossError } from '../../lib/errors.js';
import { Tensor } from '../../lib/tensor.js';
import { EarlyStoppingCallback, TrainerControl, type TrainerCallback } from '../../lib/train/callbacks.js';
import { readTensorBoardEvents } from '../../lib/train/tensorboard.js';
import { Trainer } from '../../lib/train/trainer.js';
import { lineSink, lossRecorder, outDirs, tinySetup } from './helpers.js';

const outDir = outDirs();

describe('Trainer', () => {
  it('fits a tiny model: the loss falls, logs, TensorBoard, JSONL, report and checkpoint are written', async () => {
    const { model, tokenizer, image_processor, train, evalSet } = await tinySetup({ trainSize: 48 });
    const dir = outDir();
    const sink = lineSink();
    const rec = lossRecorder();
    const trainer = new Trainer({
      model, tokenizer, image_processor, train_dataset: train, eval_dataset: evalSet, log: sink.log, callbacks: [rec.cb],
      args: { output_dir: dir, max_steps: 30, per_device_train_batch_size: 8, learning_rate: 3e-3, logging_steps: 5, save_steps: 15, eval_strategy: 'steps', eval_steps: 15, predict_with_generate: true, generation_max_length: 12, report_to: ['tensorboard'] },
    });
    const out = await trainer.fit();
    expect(out.global_step).toBe(30);
    expect(out.interrupted).toBe(false);
    const first = rec.losses.slice(0, 3).reduce((a, b) => a + b) / 3;
    const last = rec.losses.slice(-3).reduce((a, b) => a + b) / 3;
    expect(last).toBeLessThan(first * 0.8);
    expect(out.metrics).toMatchObject({ train_runtime: expect.any(Number), train_samples_per_second: expect.any(Number), train_loss: expect.any(Number), epoch: 5 });

    const h = trainer.state.log_history;
    expect(h.filter((e) => 'loss' in e).map((e) => e.step)).toEqual([5, 10, 15, 20, 25, 30]);
    const evals = h.filter((e) => 'eval_loss' in e);
    expect(evals.map((e) => e.step)).toEqual([15, 30]);
    for (const k of ['eval_Bleu_1', 'eval_Bleu_4', 'eval_ROUGE_L', 'eval_CIDEr', 'eval_runtime', 'eval_samples_per_second', 'eval_steps_per_second', 'epoch']) expect(evals[1]).toHaveProperty(k);
    expect(h[h.length - 1]).toHaveProperty('train_runtime');

    // Checkpoints in the HF layout.
    const ck = join(dir, 'checkpoint-30');
    for (const f of ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'preprocessor_config.json',
      'optimizer.safetensors', 'optimizer.json', 'scheduler.json', 'rng_state.json', 'loader_state.json', 'trainer_state.json', 'training_args.json']) {
      expect(existsSync(join(ck, f)), f).toBe(true);
    }
    const state = JSON.parse(readFileSync(join(ck, 'trainer_state.json'), 'utf8'));
    expect(state).toMatchObject({ global_step: 30, max_steps: 30, logging_steps: 5, eval_steps: 15, save_steps: 15, train_batch_size: 8, num_train_epochs: 5 });
    expect(state.log_history.length).toBeGreaterThan(5);
    expect(existsSync(join(dir, 'checkpoint-15', 'model.safetensors'))).toBe(true);
    expect(readdirSync(dir).some((n) => n.startsWith('.tmp'))).toBe(false);

    // JSONL has every logged value; TensorBoard has the HF tags with the same values.
    const jsonl = readFileSync(join(dir, 'trainer_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(jsonl.filter((e) => 'loss' in e).map((e) => e.loss)).toEqual(h.filter((e) => 'loss' in e).map((e) => e.loss));
    const runs = readdirSync(join(dir, 'runs'));
    const evFile = readdirSync(join(dir, 'runs', runs[0]!))[0]!;
    const events = readTensorBoardEvents(join(dir, 'runs', runs[0]!, evFile));
    expect(events[0]!.file_version).toBe('brain.Event:2');
    const scalar = (tag: string) => events.flatMap((e) => e.values.filter((v) => v.tag === tag).map((v) => [e.step, v.simple_value]));
    expect(scalar('train/loss').map(([s]) => s)).toEqual([5, 10, 15, 20, 25, 30]);
    expect(scalar('train/loss')[0]![1]).toBeCloseTo(h[0]!.loss!, 5);
    expect(scalar('eval/loss').map(([s]) => s)).toEqual([15, 30]);
    expect(scalar('eval/CIDEr')).toHaveLength(2);
    expect(scalar('train/learning_rate')).toHaveLength(6);

    const report = readFileSync(join(dir, 'report.html'), 'utf8');
    expect(report).toContain('<svg');
    expect(report).toContain('data:image/png;base64,');
    expect(sink.lines.some((l) => /^\[step 5\] loss /.test(l))).toBe(true);
  });

  it('gradient accumulation equals one big batch (equal-length labels)', async () => {
    // One caption template ("a {size} {colour} {shape}"): every label row has the same length.
    const run = async (batch: number, accum: number) => {
      const s = await tinySetup({ trainSize: 32, seed: 3 });
      const train = s.train.map((it): DataItem => ({ id: it.id, image: it.image, captions: [it.captions[0]!] }));
      const rec = lossRecorder();
      const trainer = new Trainer({
        model: s.model, tokenizer: s.tokenizer, image_processor: s.image_processor, train_dataset: train, log: () => {}, callbacks: [rec.cb],
        args: { output_dir: outDir(), max_steps: 4, per_device_train_batch_size: batch, gradient_accumulation_steps: accum, learning_rate: 1e-3, lr_scheduler_type: 'constant', save_strategy: 'no', weight_decay: 0.01 },
      });
      await trainer.fit();
      return { losses: rec.losses, state: await s.model.stateDict() };
    };
    const big = await run(8, 1);
    const acc = await run(2, 4);
    expect(acc.losses).toHaveLength(4);
    for (let i = 0; i < 4; i++) expect(Math.abs(acc.losses[i]! - big.losses[i]!)).toBeLessThan(1e-5);
    let maxDiff = 0;
    for (const [k, t] of Object.entries(big.state)) {
      const a = acc.state[k]!.data as Float32Array;
      (t.data as Float32Array).forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - a[i]!))));
    }
    expect(maxDiff).toBeLessThan(1e-5);
  });

  it('clips the gradient norm to max_grad_norm and reports the norm before clipping', async () => {
    // With a huge adam_epsilon the first AdamW update is lr * g / eps: linear in the (clipped) gradient.
    const step = async (max_grad_norm: number) => {
      const s = await tinySetup({ trainSize: 8, seed: 5 });
      const before = await s.model.stateDict();
      const trainer = new Trainer({
        model: s.model, tokenizer: s.tokenizer, image_processor: s.image_processor, train_dataset: s.train, log: () => {},
        args: { output_dir: outDir(), max_steps: 1, per_device_train_batch_size: 8, learning_rate: 1, lr_scheduler_type: 'constant', adam_epsilon: 1e4, weight_decay: 0, max_grad_norm, logging_steps: 1, save_strategy: 'no' },
      });
      await trainer.fit();
      const after = await s.model.stateDict();
      let sq = 0;
      for (const [k, t] of Object.entries(before)) (t.data as Float32Array).forEach((v, i) => (sq += (v - (after[k]!.data as Float32Array)[i]!) ** 2));
      return { delta: Math.sqrt(sq), grad_norm: trainer.state.log_history[0]!.grad_norm! };
    };
    const free = await step(0);
    const clipped = await step(free.grad_norm / 10);
    expect(clipped.grad_norm).toBeCloseTo(free.grad_norm, 5);
    expect(clipped.delta / free.delta).toBeCloseTo(0.1, 2);
  });

  for (const dropout of [0, 0.1]) it(`resumes exactly (dropout ${dropout}): interrupted + resumed gives the loss sequence of an uninterrupted run`, async () => {
    const args = (dir: string) => ({ output_dir: dir, max_steps: 10, per_device_train_batch_size: 4, gradient_accumulation_steps: 2, learning_rate: 2e-3, warmup_steps: 2, save_steps: 100, logging_steps: 1 });
    // 20 items / 4 = 5 batches per epoch = 3 optimizer steps per epoch (the last with one micro-batch).
    const full = await tinySetup({ trainSize: 20, seed: 7, dropout });
    const recFull = lossRecorder();
    await new Trainer({ model: full.model, tokenizer: full.tokenizer, image_processor: full.image_processor, train_dataset: full.train, log: () => {}, callbacks: [recFull.cb], args: args(outDir()) }).fit();
    expect(recFull.losses).toHaveLength(10);

    const dir = outDir();
    const a = await tinySetup({ trainSize: 20, seed: 7, dropout });
    const recA = lossRecorder();
    const trainerA = new Trainer({
      model: a.model, tokenizer: a.tokenizer, image_processor: a.image_processor, train_dataset: a.train, log: () => {},
      callbacks: [recA.cb, { on_step_end: (_a, s) => { if (s.global_step === 4) trainerA.stop('test stop'); } }],
      args: args(dir),
    });
    const outA = await trainerA.fit();
    expect(outA.interrupted).toBe(true);
    expect(outA.checkpoint).toBe(join(dir, 'checkpoint-4'));

    const b = await tinySetup({ trainSize: 20, seed: 99, dropout }); // other initial weights: the checkpoint must replace them
    const recB = lossRecorder();
    const sink = lineSink();
    const outB = await new Trainer({ model: b.model, tokenizer: b.tokenizer, image_processor: b.image_processor, train_dataset: b.train, log: sink.log, callbacks: [recB.cb], args: { ...args(dir), resume_from_checkpoint: true } }).fit();
    expect(outB.global_step).toBe(10);
    expect(sink.lines.some((l) => /Resuming from .*checkpoint-4: global_step 4.*no batches replayed/.test(l))).toBe(true);
    expect([...recA.losses, ...recB.losses]).toEqual(recFull.losses);
  });

  it('SIGINT during fit: finishes the step, saves a checkpoint and resolves', async () => {
    const s = await tinySetup({ trainSize: 16 });
    const dir = outDir();
    const sink = lineSink();
    const listenersBefore = process.listenerCount('SIGINT');
    const trainer = new Trainer({
      model: s.model, tokenizer: s.tokenizer, image_processor: s.image_processor, train_dataset: s.train, log: sink.log,
      callbacks: [{ on_step_end: (_a, st) => { if (st.global_step === 3) process.emit('SIGINT'); } }],
      args: { output_dir: dir, max_steps: 1000, per_device_train_batch_size: 4, save_steps: 500 },
    });
    const out = await trainer.fit();
    expect(out.interrupted).toBe(true);
    expect(out.global_step).toBe(3);
    expect(out.checkpoint).toBe(join(dir, 'checkpoint-3'));
    for (const f of ['model.safetensors', 'optimizer.safetensors', 'trainer_state.json', 'loader_state.json']) expect(existsSync(join(dir, 'checkpoint-3', f))).toBe(true);
    expect(sink.lines.some((l) => /^SIGINT: stopping after step 3, then saving a checkpoint/.test(l))).toBe(true);
    expect(sink.lines.some((l) => /Training stopped by SIGINT at step 3; checkpoint saved/.test(l))).toBe(true);
    expect(process.listenerCount('SIGINT')).toBe(listenersBefore);
  });

  it('stops with NonFiniteLossError naming the step and the last good checkpoint', async () => {
    const s = await tinySetup({ trainSize: 16 });
    const dir = outDir();
    const poison: TrainerCallback = {
      on_save: async (_a, st) => {
        if (st.global_step !== 2) return;
        const sd = await s.model.stateDict();
        const name = Object.keys(sd).find((k) => k.endsWith('wte.weight'))!;
        const nan = new Float32Array(sd[name]!.size).fill(NaN);
        await s.model.loadStateDict({ [name]: Tensor.from(nan, sd[name]!.shape) }, { strict: false });
      },
    };
    const trainer = new Trainer({
      model: s.model, tokenizer: s.tokenizer, image_processor: s.image_processor, train_dataset: s.train, log: () => {}, callbacks: [poison],
      args: { output_dir: dir, max_steps: 10, per_device_train_batch_size: 4, save_steps: 2 },
    });
    const err = await trainer.fit().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NonFiniteLossError);
    expect((err as NonFiniteLossError).step).toBe(3);
    expect((err as Error).message).toMatch(/loss became NaN at step 3/);
    expect((err as Error).message).toContain(join(dir, 'checkpoint-2'));
  });

  it('keeps the best checkpoint when rotating and loads it at the end', async () => {
    const s = await tinySetup({ trainSize: 16, evalSize: 8 });
    const dir = outDir();
    // greater_is_better on eval_loss: the earliest (worst-trained) checkpoint is "best", so rotation must spare it.
    const trainer = new Trainer({
      model: s.model, tokenizer: s.tokenizer, image_processor: s.image_processor, train_dataset: s.train, eval_dataset: s.evalSet, log: () => {},
      args: { output_dir: dir, max_steps: 8, per_device_train_batch_size: 4, learning_rate: 3e-3, eval_strategy: 'steps', eval_steps: 2, save_steps: 2, save_total_limit: 2, load_best_model_at_end: true, metric_for_best_model: 'loss', greater_is_better: true },
    });
    await trainer.fit();
    const kept = readdirSync(dir).filter((n) => n.startsWith('checkpoint-')).sort();
    expect(kept).toEqual(['checkpoint-2', 'checkpoint-8']);
    expect(trainer.state.best_model_checkpoint).toBe(join(dir, 'checkpoint-2'));
    expect(trainer.state.best_global_step).toBe(2);
    const best = trainer.state.log_history.find((e) => e.step === 2 && 'eval_loss' in e)!.eval_loss!;
    expect(trainer.state.best_metric).toBe(best);
    // The model now holds checkpoint-2's weights: evaluating again gives its loss.
    const again = await trainer.evaluate();
    expect(again.eval_loss).toBeCloseTo(best, 5);
  });

  it('EarlyStoppingCallback stops after `patience` evaluations without improvement', async () => {
    const s = await tinySetup({ trainSize: 16, evalSize: 8 });
    const early = new EarlyStoppingCallback({ early_stopping_patience: 2 });
    const trainer = new Trainer({
      model: s.model, tokenizer: s.tokenizer, image_processor: s.image_processor, train_dataset: s.train, eval_dataset: s.evalSet, log: () => {}, callbacks: [early],
      // greater_is_better on a falling loss: never improves after the first evaluation
      args: { output_dir: outDir(), max_steps: 50, per_device_train_batch_size: 4, learning_rate: 3e-3, eval_strategy: 'steps', eval_steps: 1, save_strategy: 'no', metric_for_best_model: 'loss', greater_is_better: true },
    });
    const out = await trainer.fit();
    expect(out.global_step).toBe(3);
    expect(early.early_stopping_patience_counter).toBe(2);
  });

  it('callbacks get HF events in order and can stop training', async () => {
    const s = await tinySetup({ trainSize: 8 });
    const events: string[] = [];
    const names = ['on_init_end', 'on_train_begin', 'on_epoch_begin', 'on_step_begin', 'on_step_end', 'on_log', 'on_save', 'on_epoch_end', 'on_train_end'] as const;
    const cb: TrainerCallback = Object.fromEntries(names.map((n) => [n, () => void events.push(n)]));
    cb.on_step_end = (_a, st, control) => {
      events.push('on_step_end');
      if (st.global_step === 2) {
        const c = new TrainerControl();
        Object.assign(c, control, { should_training_stop: true });
        return c;
      }
    };
    const trainer = new Trainer({ model: s.model, tokenizer: s.tokenizer, image_processor: s.image_processor, train_dataset: s.train, log: () => {}, callbacks: [cb],
      args: { output_dir: outDir(), max_steps: 100, per_device_train_batch_size: 4, logging_steps: 1, save_strategy: 'no' } });
    await trainer.fit();
    expect(trainer.state.global_step).toBe(2);
    expect(events).toEqual(['on_init_end', 'on_train_begin', 'on_epoch_begin', 'on_step_begin', 'on_step_end', 'on_log', 'on_step_begin', 'on_step_end', 'on_log', 'on_epoch_end', 'on_log', 'on_train_end']);
    expect(() => new Trainer({ model: s.model, tokenizer: s.tokenizer, image_processor: s.image_processor, args: { output_dir: 'x' }, callbacks: [{ on_stpe_end: () => {} } as never] })).toThrow(/Unknown callback event 'on_stpe_end'/);
  });

  it('fills missing token ids from the tokenizer and checks them', async () => {
    const s = await tinySetup({ trainSize: 8 });
    const cfg = structuredClone(s.config) as unknown as Record<string, unknown>;
    cfg.decoder_start_token_id = null;
    cfg.pad_token_id = null;
    const { VisionEncoderDecoder } = await import('../../lib/models/vision-encoder-decoder.js');
    const model = await VisionEncoderDecoder.fromConfig(cfg, { seed: 0 });
    expect(model.config.pad_token_id).toBeNull();
    const sink = lineSink();
    const trainer = new Trainer({ model, tokenizer: s.tokenizer, image_processor: s.image_processor, train_dataset: s.train, log: sink.log, args: { output_dir: outDir(), max_steps: 2, per_device_train_batch_size: 4, save_strategy: 'no' } });
    expect(model.config.pad_token_id).toBe(0);
    expect(model.config.decoder_start_token_id).toBe(0);
    const out = await trainer.fit();
    expect(Number.isFinite(out.training_loss)).toBe(true);
    expect(sink.lines[0]).toMatch(/lacked token ids; set from the tokenizer: pad_token_id = 0, decoder_start_token_id = 0/);

    const wrong = structuredClone(s.config) as unknown as Record<string, unknown>;
    wrong.eos_token_id = 5;
    const m2 = await VisionEncoderDecoder.fromConfig(wrong, { seed: 0 });
    expect(() => new Trainer({ model: m2, tokenizer: s.tokenizer, image_processor: s.image_processor, args: { output_dir: 'x' } })).toThrow(/eos_token_id is 5 but the tokenizer's eos token id is 0/);
    const small = structuredClone(s.config) as unknown as { decoder: { vocab_size: number } };
    small.decoder.vocab_size = 10;
    const m3 = await VisionEncoderDecoder.fromConfig(small, { seed: 0 });
    expect(() => new Trainer({ model: m3, tokenizer: s.tokenizer, image_processor: s.image_processor, args: { output_dir: 'x' } })).toThrow(/vocab_size is 10/);
  });

  it('predict() captions a dataset and scores it against all references', async () => {
    const s = await tinySetup({ trainSize: 8, evalSize: 6 });
    let seen: unknown;
    const trainer = new Trainer({ model: s.model, tokenizer: s.tokenizer, image_processor: s.image_processor, log: () => {},
      compute_metrics: (p) => { seen = p; return { mean_length: p.predictions.reduce((n, c) => n + c.split(' ').length, 0) / p.predictions.length }; },
      args: { output_dir: outDir(), per_device_eval_batch_size: 4, generation_max_length: 6 } });
    const out = await trainer.predict(s.evalSet);
    expect(out.ids).toHaveLength(6);
    expect(out.references[0]).toEqual(s.evalSet.item(0).captions);
    expect(out.metrics).toHaveProperty('test_Bleu_4');
    expect(out.metrics).toHaveProperty('test_CIDEr');
    expect(out.metrics).toHaveProperty('test_mean_length');
    expect((seen as { references: string[][] }).references).toHaveLength(6);
    expect(out.sequences[0]!.length).toBeLessThanOrEqual(6);
  });

  it('needs max_steps for a dataset of unknown length', async () => {
    const s = await tinySetup({ trainSize: 8 });
    // (a filter over random access now keeps the length: a generator is what has none)
    const stream = Dataset.fromGenerator(() => [...Array(8).keys()].map((i) => s.train.item(i)));
    const trainer = new Trainer({ model: s.model, tokenizer: s.tokenizer, image_processor: s.image_processor, train_dataset: stream, log: () => {}, args: { output_dir: outDir() } });
    await expect(trainer.fit()).rejects.toThrow(/no known length.*set max_steps/);
    const t2 = new Trainer({ model: s.model, tokenizer: s.tokenizer, image_processor: s.image_processor, train_dataset: stream, log: () => {}, args: { output_dir: outDir(), max_steps: 3, per_device_train_batch_size: 4, save_strategy: 'no' } });
    expect((await t2.fit()).global_step).toBe(3);
  });

  it('trains a filtered dataset for num_train_epochs without max_steps (filter keeps the length, as in datasets)', async () => {
    const s = await tinySetup({ trainSize: 12 });
    const filtered = datasets.fromItems([...Array(12).keys()].map((i) => s.train.item(i))).filter((_, i) => i % 3 !== 0);
    expect(await filtered.size()).toBe(8);
    const trainer = new Trainer({ model: s.model, tokenizer: s.tokenizer, image_processor: s.image_processor, train_dataset: filtered, log: () => {}, args: { output_dir: outDir(), num_train_epochs: 2, per_device_train_batch_size: 4, save_strategy: 'no' } });
    const out = await trainer.fit();
    expect(out.global_step).toBe(4);
    expect(trainer.state.max_steps).toBe(4);
  });
});
