// The async, threading and error contract of the addon (docs/architecture.md "The boundary").
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { native, loadAddon } from '../../lib/native.js';
import { FormatError, InvalidArgumentError, NativeError } from '../../lib/errors.js';
import { VisionEncoderDecoder } from '../../lib/models/vision-encoder-decoder.js';
import { tinyConfig } from '../../lib/models/config.js';
import { AdamW } from '../../lib/optim/adamw.js';
import { Tensor } from '../../lib/tensor.js';

/** Resolves after `ms` of event-loop time; how late it fired says whether the loop was blocked. */
function timerLag(ms: number): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve) => setTimeout(() => resolve(performance.now() - t0 - ms), ms));
}

describe('native addon', () => {
  it('loads and reports its build', async () => {
    const { path, addon } = loadAddon();
    expect(path).toMatch(/torch_caption\.node$/);
    const info = addon.buildInfo();
    expect(info.torchVersion).toMatch(/^\d+\.\d+/);
    expect(typeof info.numThreads).toBe('number');
    const pkg = (await import('../../package.json', { with: { type: 'json' } })).default as { version: string };
    expect(info.addonVersion).toBe(pkg.version); // compiled in from package.json, not written twice
  });

  it('sets OPENBLAS_THREAD_TIMEOUT=4 before OpenBLAS loads, and keeps a value the environment sets', () => {
    // A fresh process each: OpenBLAS reads the variable once, when the addon first loads libtorch.
    const dist = join(__dirname, '..', '..', 'dist', 'lib', 'native.js');
    const script = `import(${JSON.stringify(pathToFileURL(dist).href)}).then((m) => { m.native(); console.log(process.env.OPENBLAS_THREAD_TIMEOUT); })`;
    const run = (extra: Record<string, string>) => {
      const env = { ...process.env, ...extra };
      if (!('OPENBLAS_THREAD_TIMEOUT' in extra)) delete env.OPENBLAS_THREAD_TIMEOUT;
      const r = spawnSync(process.execPath, ['-e', script], { env, encoding: 'utf8', timeout: 60_000 });
      expect(r.status, r.stderr).toBe(0);
      return r.stdout.trim();
    };
    expect(run({})).toBe('4');
    expect(run({ OPENBLAS_THREAD_TIMEOUT: '28' })).toBe('28');
  });

  it('keeps the event loop ticking while a 1-second native job runs', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const started = Date.now();
    const ms = await native().testing.sleep(1000);
    clearInterval(timer);
    expect(ms).toBe(1000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(990);
    expect(ticks).toBeGreaterThan(50);
  });

  it('keeps the event loop ticking during real model work, and serializes calls on one model', async () => {
    const model = await VisionEncoderDecoder.fromConfig(tinyConfig({ vocabSize: 100 }), { seed: 1 });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const t0 = Date.now();
    await Promise.all([native().testing.sleepOnModel(model.handle, 300), native().testing.sleepOnModel(model.handle, 300)]);
    clearInterval(timer);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(590); // one model: the two jobs ran one after the other
    expect(ticks).toBeGreaterThan(20);
  });

  it('never blocks the event loop behind a long job: synchronous queries, zeroGrad, train/eval and lr changes return at once', async () => {
    const model = await VisionEncoderDecoder.fromConfig(tinyConfig({ vocabSize: 100 }), { seed: 7 });
    const opt = new AdamW(model, { lr: 1e-3 });
    const busy = native().testing.sleepOnModel(model.handle, 600); // holds the model's strand
    const lag = timerLag(20);
    const t0 = performance.now();
    // Each of these took the model's lock on the JS thread before, freezing the loop for the whole job.
    const info = model.handle.parameterInfo();
    const n = model.numParameters();
    const device = model.device;
    const steps = opt.stepCount;
    const cleared = model.zeroGrad();
    model.train();
    opt.setLearningRate(5e-4);
    model.eval();
    const elapsed = performance.now() - t0;
    expect(elapsed).toBeLessThan(100);
    expect(await lag).toBeLessThan(200); // the timer fired while the job was still running
    expect(info.length).toBeGreaterThan(0);
    expect(n).toBe(info.filter((p) => p.requiresGrad).reduce((s, p) => s + p.numel, 0));
    expect(device).toBe('cpu');
    expect(steps).toBe(0);
    await cleared;
    await busy;
  });

  it('runs queued jobs of one model in call order, also when they are not awaited', async () => {
    const model = await VisionEncoderDecoder.fromConfig(tinyConfig({ vocabSize: 100 }), { seed: 8 });
    const x = { pixel_values: Tensor.from(new Float32Array(3 * 32 * 32).fill(0.1), [1, 3, 32, 32]), labels: Tensor.int64([[1, 2, 3]]) };
    const order: string[] = [];
    const a = native().testing.sleepOnModel(model.handle, 150).then(() => order.push('sleep'));
    const b = model.backward(x).then(() => order.push('backward'));
    const c = model.gradients().then((g) => order.push(Object.keys(g).length > 0 ? 'gradients' : 'no-gradients'));
    const d = model.zeroGrad().then(() => order.push('zeroGrad'));
    const e = model.gradients().then((g) => order.push(Object.keys(g).length === 0 ? 'cleared' : 'not-cleared'));
    await Promise.all([a, b, c, d, e]);
    expect(order).toEqual(['sleep', 'backward', 'gradients', 'zeroGrad', 'cleared']);
  });

  it('keeps the event loop ticking while a long trainStep runs and queries are made', async () => {
    const model = await VisionEncoderDecoder.fromConfig(tinyConfig({ vocabSize: 2000, hidden: 64, layers: 2 }), { seed: 9 });
    const opt = new AdamW(model, { lr: 1e-3 });
    const px = Tensor.from(new Float32Array(8 * 3 * 32 * 32).map((_, i) => Math.sin(i)), [8, 3, 32, 32]);
    const labels = Tensor.int64(Array.from({ length: 8 }, (_, i) => Array.from({ length: 24 }, (_, j) => (i * 31 + j * 7) % 2000)));
    const micro = Array.from({ length: 6 }, () => ({ pixel_values: px, labels }));
    let ticks = 0;
    const timer = setInterval(() => ticks++, 2);
    const t0 = performance.now();
    const step = model.trainStep(micro, { optimizer: opt, max_grad_norm: 1 });
    let queries = 0;
    let slowest = 0;
    let done = false;
    void step.then(() => { done = true; });
    while (!done) {
      const q0 = performance.now();
      model.handle.parameterInfo();
      model.numParameters({ trainableOnly: true });
      void model.zeroGrad();
      slowest = Math.max(slowest, performance.now() - q0);
      queries++;
      await new Promise((r) => setTimeout(r, 5));
    }
    const r = await step;
    const took = performance.now() - t0;
    clearInterval(timer);
    expect(Number.isFinite(r.loss)).toBe(true);
    expect(opt.stepCount).toBe(1);
    expect(took).toBeGreaterThan(50); // a real job, long enough for the loop to have been tested
    expect(queries).toBeGreaterThan(3);
    expect(slowest).toBeLessThan(50);
    expect(ticks).toBeGreaterThan(took / 20);
  });

  it('8 concurrent calls on one model all return correct results', async () => {
    const model = await VisionEncoderDecoder.fromConfig(tinyConfig({ vocabSize: 100 }), { seed: 2 });
    const inputs = Array.from({ length: 8 }, (_, i) => {
      const px = new Float32Array(3 * 32 * 32).map((_, j) => Math.sin(i * 31 + j));
      return { pixel_values: Tensor.from(px, [1, 3, 32, 32]), labels: Tensor.int64([[1 + i, 2, 3, 99]]) };
    });
    const sequential = [];
    for (const x of inputs) sequential.push((await model.forward(x)).loss);
    const concurrent = (await Promise.all(inputs.map((x) => model.forward(x)))).map((o) => o.loss);
    expect(concurrent).toEqual(sequential);
    expect(new Set(sequential).size).toBe(8);
  });

  it('turns every kind of native failure into a JS Error without aborting', async () => {
    const t = native().testing;
    await expect(t.throwError('c10')).rejects.toThrow(/mat1 and mat2 shapes cannot be multiplied|size mismatch|shapes/);
    await expect(t.throwError('c10')).rejects.not.toThrow(/Exception raised from|frame #/); // no C++ backtrace
    await expect(t.throwError('std')).rejects.toThrow('test std::exception from a native job');
    // Argument errors found natively carry the library's class (they were TypeErrors before).
    expect(() => t.throwError('arg')).toThrow(InvalidArgumentError);
    const model = await VisionEncoderDecoder.fromConfig(tinyConfig({ vocabSize: 100 }));
    await expect(model.forward({ pixel_values: Tensor.from(new Float32Array(3 * 16 * 16), [1, 3, 16, 16]), labels: Tensor.int64([[1]]) }))
      .rejects.toThrow(/Expected images of 32x32/);
    await expect(model.forward({ pixel_values: Tensor.from(new Float32Array(3 * 32 * 32), [1, 3, 32, 32]), labels: Tensor.int64([[100]]) }))
      .rejects.toThrow(/label ids in \[0, 100\)/);
  });

  it('keeps the error class across the boundary, for every kind, thrown or rejected', async () => {
    const t = native().testing;
    const kinds: [() => Promise<unknown>, new (...a: never[]) => Error][] = [
      [() => t.throwError('c10'), NativeError],
      [() => t.throwError('std'), NativeError],
      [() => t.throwError('argument'), InvalidArgumentError],
      [() => t.throwError('format'), FormatError],
      [() => native().readSafetensors('/nonexistent/model.safetensors'), NativeError],
    ];
    for (const [call, cls] of kinds) {
      const err = await call().then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(cls);
      expect((err as Error).name).toBe(cls.name);
    }
    // Synchronous argument checks of the bridge.
    expect(() => t.addTensors({ dtype: 'float32', shape: [3], data: new Float32Array(2) }, { dtype: 'float32', shape: [3], data: new Float32Array(3) }))
      .toThrow(InvalidArgumentError);
    // A libtorch error inside a model job.
    const model = await VisionEncoderDecoder.fromConfig(tinyConfig({ vocabSize: 100 }));
    const bad = await model.forward({ pixel_values: Tensor.from(new Float32Array(3 * 16 * 16), [1, 3, 16, 16]) }).then(() => null, (e: unknown) => e);
    expect(bad).toBeInstanceOf(NativeError);
  });
});
