// The async and error contract of the addon (DESIGN.md "Rules of the boundary").
import { describe, expect, it } from 'vitest';
import { native, loadAddon } from '../../lib/native.js';
import { VisionEncoderDecoder } from '../../lib/models/vision-encoder-decoder.js';
import { tinyConfig } from '../../lib/models/config.js';
import { Tensor } from '../../lib/tensor.js';

describe('native addon', () => {
  it('loads and reports its build', () => {
    const { path, addon } = loadAddon();
    expect(path).toMatch(/torch_caption\.node$/);
    const info = addon.buildInfo();
    expect(info.torchVersion).toMatch(/^\d+\.\d+/);
    expect(typeof info.numThreads).toBe('number');
  });

  it('keeps the event loop ticking while a 1-second native job runs', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const started = Date.now();
    const ms = await native().testSleep(1000);
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
    await Promise.all([model.handle.sleepForTest(300), model.handle.sleepForTest(300)]);
    clearInterval(timer);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(590); // one model: the two jobs ran one after the other
    expect(ticks).toBeGreaterThan(20);
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
    await expect(native().testThrow('c10')).rejects.toThrow(/mat1 and mat2 shapes cannot be multiplied|size mismatch|shapes/);
    await expect(native().testThrow('c10')).rejects.not.toThrow(/Exception raised from|frame #/); // no C++ backtrace
    await expect(native().testThrow('std')).rejects.toThrow('test std::exception from a native job');
    expect(() => native().testThrow('arg')).toThrow(TypeError);
    const model = await VisionEncoderDecoder.fromConfig(tinyConfig({ vocabSize: 100 }));
    await expect(model.forward({ pixel_values: Tensor.from(new Float32Array(3 * 16 * 16), [1, 3, 16, 16]), labels: Tensor.int64([[1]]) }))
      .rejects.toThrow(/Expected images of 32x32/);
    await expect(model.forward({ pixel_values: Tensor.from(new Float32Array(3 * 32 * 32), [1, 3, 32, 32]), labels: Tensor.int64([[100]]) }))
      .rejects.toThrow(/label ids in \[0, 100\)/);
  });
});
