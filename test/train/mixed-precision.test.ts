/**
 * Mixed precision on CPU: bf16 autocast in the train step, and the loss-scaling machinery of fp16
 * (GradScaler, skipped steps, the schedule that does not advance on them, scaler.json on resume), exercised
 * with float32 losses since float16 autocast needs CUDA. GradScaler's own semantics: test/optim/grad-scaler.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../lib/errors.js';
import { Tensor } from '../../lib/tensor.js';
import { native } from '../../lib/native.js';
import { fromRaw } from '../../lib/models/captioning-model.js';
import { AutoModelForVision2Seq } from '../../lib/models/auto.js';
import { describeWithFixtures } from '../helpers/fixtures.js';
import { AdamW } from '../../lib/optim/adamw.js';
import { GradScaler } from '../../lib/optim/grad-scaler.js';
import { Trainer } from '../../lib/train/trainer.js';
import { lineSink, lossRecorder, outDirs, tinySetup } from './helpers.js';

const outDir = outDirs();

/** One fixed batch of the tiny synthetic set, as the native train step takes it. */
async function firstBatch(s: Awaited<ReturnType<typeof tinySetup>>) {
  const loader = s.train.batches({ batch_size: 8, imageProcessor: s.image_processor, tokenizer: s.tokenizer, captionSampling: 'first', max_length: 16 });
  for await (const b of loader) return { pixel_values: b.pixel_values, labels: b.labels };
  throw new Error('empty dataset');
}

function maxAbsDiff(a: Record<string, Tensor>, b: Record<string, Tensor>): number {
  let m = 0;
  for (const [k, t] of Object.entries(a)) {
    const u = b[k]!.data as Float32Array;
    const v = t.data as Float32Array;
    for (let i = 0; i < v.length; i++) m = Math.max(m, Math.abs(v[i]! - u[i]!));
  }
  return m;
}

describe('native train step: loss scaling', () => {
  it('a power-of-two loss scale gives bit-identical weights (scaling and unscaling are exact)', async () => {
    const a = await tinySetup({ seed: 3 });
    const b = await tinySetup({ seed: 3 });
    const batch = await firstBatch(a);
    const optA = new AdamW(a.model, { lr: 1e-3, weight_decay: 0.01 });
    const optB = new AdamW(b.model, { lr: 1e-3, weight_decay: 0.01 });
    for (let i = 0; i < 2; i++) {
      const ra = await a.model.trainStep([batch, batch], { optimizer: optA, max_grad_norm: 1, loss_scale: 1 });
      const rb = await b.model.trainStep([batch, batch], { optimizer: optB, max_grad_norm: 1, loss_scale: 2 ** 16 });
      expect(rb.skipped).toBe(false);
      expect(rb.loss).toBe(ra.loss);
      expect(rb.grad_norm).toBe(ra.grad_norm);
    }
    expect(maxAbsDiff(await a.model.stateDict(), await b.model.stateDict())).toBe(0);
  });

  it('an overflowing loss scale skips the update: weights, optimizer step count and gradients are untouched', async () => {
    const a = await tinySetup({ seed: 4 });
    const batch = await firstBatch(a);
    const before = await a.model.stateDict();
    const opt = new AdamW(a.model, { lr: 1e-3 });
    const r = await a.model.trainStep([batch], { optimizer: opt, max_grad_norm: 1, loss_scale: 2 ** 130 });
    expect(r.skipped).toBe(true);
    expect(Number.isFinite(r.loss)).toBe(true);
    expect(Number.isFinite(r.grad_norm)).toBe(false);
    expect(maxAbsDiff(before, await a.model.stateDict())).toBe(0);
    expect(opt.stepCount).toBe(0);
    // The overflowed gradients were dropped: the next clean step is the first step of a fresh model.
    const fresh = await tinySetup({ seed: 4 });
    const optF = new AdamW(fresh.model, { lr: 1e-3 });
    await fresh.model.trainStep([batch], { optimizer: optF, max_grad_norm: 1 });
    await a.model.trainStep([batch], { optimizer: opt, max_grad_norm: 1 });
    expect(maxAbsDiff(await fresh.model.stateDict(), await a.model.stateDict())).toBe(0);
  });

  it('names the problem for bad mixed-precision options', async () => {
    const a = await tinySetup({ seed: 5 });
    const batch = await firstBatch(a);
    const opt = new AdamW(a.model, { lr: 1e-3 });
    // Checked on the JS side before anything is queued: the step rejects with the library's argument error.
    await expect(a.model.trainStep([batch], { optimizer: opt, autocast: 'float16' })).rejects.toThrow(/fp16 mixed precision needs a CUDA device.*use bf16 on CPU/);
    await expect(a.model.trainStep([batch], { optimizer: opt, autocast: 'int8' as never })).rejects.toThrow(/Expected autocast 'bfloat16', 'float16' or ''/);
    await expect(a.model.trainStep([batch], { optimizer: opt, loss_scale: 0 })).rejects.toThrow(/positive finite loss_scale/);
    await expect(a.model.trainStep([batch], { optimizer: opt, loss_scale: 0 })).rejects.toThrow(InvalidArgumentError);
  });
});

describe('native train step: bf16 autocast on CPU', () => {
  it('runs the forward pass in bfloat16 (loss close to, not equal to float32) and leaves autocast off afterwards', async () => {
    const a = await tinySetup({ seed: 6 });
    const b = await tinySetup({ seed: 6 });
    const batch = await firstBatch(a);
    const inputs = { pixel_values: batch.pixel_values, labels: batch.labels };
    const f32 = (await a.model.forward(inputs)).loss as number;
    const optA = new AdamW(a.model, { lr: 1e-3 });
    const optB = new AdamW(b.model, { lr: 1e-3 });
    const r32 = await a.model.trainStep([batch], { optimizer: optA, max_grad_norm: 1 });
    const r16 = await b.model.trainStep([batch], { optimizer: optB, max_grad_norm: 1, autocast: 'bfloat16' });
    expect(r32.loss).toBe(f32);
    expect(r16.skipped).toBe(false);
    expect(r16.loss).not.toBe(r32.loss);
    expect(Math.abs(r16.loss - r32.loss) / r32.loss).toBeLessThan(0.02);
    expect(Math.abs(r16.grad_norm - r32.grad_norm) / r32.grad_norm).toBeLessThan(0.1);
    // Weights stay float32 and move like the float32 step (bf16 rounding only).
    const wa = await a.model.stateDict();
    const wb = await b.model.stateDict();
    expect(Object.values(wb).every((t) => t.dtype === 'float32')).toBe(true);
    expect(maxAbsDiff(wa, wb)).toBeLessThan(5e-3);
    // Autocast is thread-local on the addon's workers: later float32 passes must not see it.
    const again: number[] = [];
    for (let i = 0; i < 4; i++) again.push((await b.model.forward(inputs)).loss as number);
    const b2 = await tinySetup({ seed: 6 });
    await b2.model.loadStateDict(wb);
    const ref = (await b2.model.forward(inputs)).loss as number;
    expect(again).toEqual([ref, ref, ref, ref]);
  });
});

describe('Trainer mixed precision', () => {
  it('bf16 = true trains on CPU; fp16 = true on CPU says to use bf16', async () => {
    const s = await tinySetup({ trainSize: 16, seed: 8 });
    expect(() => new Trainer({ model: s.model, tokenizer: s.tokenizer, image_processor: s.image_processor, args: { output_dir: 'x', fp16: true } }))
      .toThrow(/fp16 = true needs a CUDA device but the model is on cpu; on CPU use bf16 = true/);
    expect(() => new Trainer({ model: s.model, tokenizer: s.tokenizer, image_processor: s.image_processor, args: { output_dir: 'x', fp16: true } })).toThrow(InvalidArgumentError);
    const run = async (bf16: boolean) => {
      const t = await tinySetup({ trainSize: 16, seed: 8 });
      const rec = lossRecorder();
      const out = await new Trainer({
        model: t.model, tokenizer: t.tokenizer, image_processor: t.image_processor, train_dataset: t.train, log: () => {}, callbacks: [rec.cb],
        args: { output_dir: outDir(), max_steps: 20, per_device_train_batch_size: 8, learning_rate: 3e-3, bf16, save_strategy: 'no' },
      }).fit();
      expect(out.global_step).toBe(20);
      return rec.losses;
    };
    const f32 = await run(false);
    const b16 = await run(true);
    // bf16 follows the float32 run closely, but is not it.
    expect(b16).not.toEqual(f32);
    for (let i = 0; i < f32.length; i++) expect(Math.abs(b16[i]! - f32[i]!) / f32[i]!, `step ${i + 1}`).toBeLessThan(0.005);
    expect(b16.slice(-3).reduce((x, y) => x + y)).toBeLessThan(b16.slice(0, 3).reduce((x, y) => x + y) * 0.8);
  });

  it('loss scaling: overflowing steps are skipped with their scheduler step, and resume restores the scale exactly', async () => {
    // 2**127 * loss overflows float32: the scaler backs off until the scaled gradients fit, then grows every 3 steps.
    const scaler = () => new GradScaler({ init_scale: 2 ** 127, growth_interval: 3 });
    const args = (dir: string) => ({ output_dir: dir, max_steps: 12, per_device_train_batch_size: 4, learning_rate: 2e-3, warmup_steps: 4, save_steps: 100, logging_steps: 1 });

    const full = await tinySetup({ trainSize: 20, seed: 7 });
    const recFull = lossRecorder();
    const dirFull = outDir();
    const sinkFull = lineSink();
    const tFull = new Trainer({ model: full.model, tokenizer: full.tokenizer, image_processor: full.image_processor, train_dataset: full.train, log: sinkFull.log, callbacks: [recFull.cb], grad_scaler: scaler(), args: args(dirFull) });
    await tFull.fit();
    const skipped = tFull.scaler!.skipped_steps;
    const events = readFileSync(join(dirFull, 'trainer_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const overflowSteps = events.filter((e) => e.event === 'overflow').map((e) => e.step as number);
    expect(overflowSteps).toHaveLength(skipped);
    expect(overflowSteps[0]).toBe(1); // 2**127 * loss is inf in float32
    expect(skipped).toBeGreaterThanOrEqual(2);
    expect(tFull.scaler!.scale).toBeLessThan(2 ** 127);
    expect(sinkFull.lines.some((l) => l.includes(`Loss scaling: ${skipped} step(s) skipped`))).toBe(true);
    // Each logged learning rate is the schedule at (steps so far - skipped steps so far), as accelerate does.
    const schedule = tFull.lr_scheduler!;
    for (const e of tFull.state.log_history.filter((x) => 'loss' in x)) {
      const skippedSoFar = overflowSteps.filter((st) => st <= e.step).length;
      expect(e.learning_rate, `step ${e.step}`).toBe(schedule.at(e.step - skippedSoFar));
    }
    expect(recFull.losses.every(Number.isFinite)).toBe(true);
    expect(recFull.losses).toHaveLength(12);

    const dir = outDir();
    const a = await tinySetup({ trainSize: 20, seed: 7 });
    const recA = lossRecorder();
    const tA = new Trainer({
      model: a.model, tokenizer: a.tokenizer, image_processor: a.image_processor, train_dataset: a.train, log: () => {}, grad_scaler: scaler(),
      callbacks: [recA.cb, { on_step_end: (_x, st) => { if (st.global_step === 7) tA.stop('test stop'); } }], args: args(dir),
    });
    await tA.fit();
    const saved = JSON.parse(readFileSync(join(dir, 'checkpoint-7', 'scaler.json'), 'utf8')) as { scale: number; _growth_tracker: number };
    expect(saved.scale).toBe(tA.scaler!.scale);
    const sched = JSON.parse(readFileSync(join(dir, 'checkpoint-7', 'scheduler.json'), 'utf8')) as { last_epoch: number };
    expect(sched.last_epoch).toBe(7 - tA.scaler!.skipped_steps);

    const b = await tinySetup({ trainSize: 20, seed: 99 });
    const recB = lossRecorder();
    const tB = new Trainer({ model: b.model, tokenizer: b.tokenizer, image_processor: b.image_processor, train_dataset: b.train, log: () => {}, grad_scaler: scaler(), callbacks: [recB.cb], args: { ...args(dir), resume_from_checkpoint: true } });
    await tB.fit();
    expect([...recA.losses, ...recB.losses]).toEqual(recFull.losses);
    expect(tB.scaler!.scale).toBe(tFull.scaler!.scale);
  });
});

describeWithFixtures('bf16 autocast on every architecture', (fixtures) => {
  // Each fixture's model, one bf16 step: every encoder (ViT, Swin, DeiT, CLIP, BEiT, GIT's and BLIP's towers)
  // and decoder (GPT-2, BERT, RoBERTa, GIT's, BLIP's) runs, the loss is finite and near the float32 loss.
  for (const name of ['vit-gpt2-tiny', 'swin-gpt2-tiny', 'deit-bert-tiny', 'clip-roberta-tiny', 'beit-gpt2-tiny', 'git-tiny', 'blip-tiny']) {
    it(name, async () => {
      const dir = join(fixtures, 'models', name);
      const cases = (await native().readSafetensors(join(fixtures, 'models', `${name}.cases.safetensors`))).tensors;
      const labels = fromRaw(cases[name === 'git-tiny' ? 'labels_pad_ignored' : 'labels']!);
      // the Trainer's form: labels alone (GIT/BLIP targets without the start token)
      const targets = name === 'git-tiny' || name === 'blip-tiny' ? Tensor.int64(labels.toNested2D().map((r) => r.slice(1))) : labels;
      const batch = { pixel_values: fromRaw(cases.pixel_values!), labels: targets };
      const model = await AutoModelForVision2Seq.fromPretrained(dir);
      const fp32 = (await model.forward(batch, { label_smoothing: 0 })).loss!;
      const opt = new AdamW(model, { lr: 1e-4 });
      const r = await model.trainStep([batch], { optimizer: opt, autocast: 'bfloat16', label_smoothing: 0 });
      expect(Number.isFinite(r.loss) && !r.skipped).toBe(true);
      expect(Math.abs(r.loss - fp32)).toBeLessThan(0.05 * Math.max(1, fp32));
    });
  }
});
