// AdamW on a native model: weight decay on every parameter by default, none on those matching no_decay.
// (AdamW against PyTorch's numbers: test/golden/models.test.ts.)
import { describe, expect, it } from 'vitest';
import { VisionEncoderDecoder } from '../../lib/models/vision-encoder-decoder.js';
import { tinyConfig } from '../../lib/models/config.js';
import { AdamW } from '../../lib/optim/adamw.js';
import { Tensor } from '../../lib/tensor.js';

function pixels(batch: number, size = 32, seed = 0): Tensor<'float32'> {
  const n = batch * 3 * size * size;
  return Tensor.from(Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + seed)), [batch, 3, size, size]) as Tensor<'float32'>;
}

const labels = Tensor.int64([[5, 6, 7, 99], [8, 9, 99, -100]]);

describe('AdamW', () => {
  it('AdamW decays all parameters by default and none matching no_decay', async () => {
    const m = await VisionEncoderDecoder.fromConfig(tinyConfig({ vocabSize: 100 }), { seed: 1 });
    const before = await m.stateDict();
    await m.backward({ pixel_values: pixels(2), labels });
    const zero = Object.fromEntries(Object.entries(await m.gradients()).map(([k, t]) => [k, Tensor.zeros(t.shape, 'float32')]));
    await m.setGradients(zero); // zero gradients: only weight decay moves parameters
    const opt = new AdamW(m, { lr: 0.1, weight_decay: 0.5, no_decay: ['.bias', 'ln_'] });
    await opt.step();
    const after = await m.stateDict();
    const w = 'decoder.transformer.h.0.mlp.c_fc.weight';
    expect(after[w]!.toArray()[0]).toBeCloseTo(before[w]!.toArray()[0]! * (1 - 0.1 * 0.5), 6);
    expect(after['decoder.transformer.ln_f.weight']!.data).toEqual(before['decoder.transformer.ln_f.weight']!.data);
    const st = await opt.stateDict();
    expect(st.step).toBe(1);
    expect(Object.keys(st.tensors)).toContain(`exp_avg.${w}`);
  });
});
