// Golden parity with Hugging Face transformers 4.9 / PyTorch 1.13 on the fixture models: logits, encoder
// states, loss, every gradient, AdamW steps (in isolation and end to end), and generation token for token.
import { expect, it } from 'vitest';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { describeWithFixtures } from '../helpers/fixtures.js';
import { excess, maxAbsDiff, pickRows } from '../helpers/compare.js';
import { native, type RawTensor } from '../../lib/native.js';
import { Tensor } from '../../lib/tensor.js';
import { VisionEncoderDecoder, fromRaw } from '../../lib/models/vision-encoder-decoder.js';
import { AdamW } from '../../lib/optim/adamw.js';

type Cases = Record<string, RawTensor>;

const GPT2_WTE = 'decoder.transformer.wte.weight';
export const maxErrors: Record<string, number> = {};

for (const name of ['vit-gpt2-tiny', 'swin-gpt2-tiny', 'deit-bert-tiny', 'clip-roberta-tiny', 'beit-gpt2-tiny']) {
  describeWithFixtures(`golden model ${name}`, (fixtures) => {
    const dir = join(fixtures, 'models', name);
    const meta = JSON.parse(readFileSync(join(fixtures, 'models', `${name}.cases.json`), 'utf8'));
    // The one tensor stored as a row subset (the decoder's word embedding): the file names it.
    const WTE: string = meta.row_subset?.tensor ?? GPT2_WTE;
    let cases: Cases;
    let model: VisionEncoderDecoder;
    const T = (k: string): Tensor => fromRaw(cases[k]!);

    it('loads the checkpoint and reproduces encoder states, logits and loss', async () => {
      cases = (await native().readSafetensors(join(fixtures, 'models', `${name}.cases.safetensors`))).tensors;
      model = await VisionEncoderDecoder.fromPretrained(dir);
      const out = await model.forward({ pixel_values: T('pixel_values'), labels: T('labels') });
      const enc = maxAbsDiff(out.encoder_last_hidden_state.data, T('encoder_last_hidden_state').data as Float32Array);
      const logits = maxAbsDiff(out.logits.data, T('logits').data as Float32Array);
      expect(enc).toBeLessThanOrEqual(1e-5);
      expect(logits).toBeLessThanOrEqual(1e-4);
      expect(Math.abs(out.loss! - meta.loss)).toBeLessThanOrEqual(1e-4);
      console.log(`${name}: max |Δ| encoder ${enc.toExponential(2)}, logits ${logits.toExponential(2)}, loss ${Math.abs(out.loss! - meta.loss).toExponential(2)}`);
    });

    it('reproduces every gradient and the AdamW steps', async () => {
      const rows = T(`rows.${WTE}`).toArray();
      await model.backward({ pixel_values: T('pixel_values'), labels: T('labels') });
      const grads = await model.gradients();
      const expectedGrads = Object.keys(cases).filter((k) => k.startsWith('grad.')).map((k) => k.slice(5));
      expect(Object.keys(grads).sort()).toEqual(expectedGrads.sort());
      let worstGrad = 0;
      for (const p of expectedGrads) {
        const mine = p === WTE ? pickRows(grads[p]!, rows) : (grads[p]!.data as Float32Array);
        const ref = T(`grad.${p}`).data as Float32Array;
        expect(excess(mine, ref, 1e-4, 1e-3), p).toBeLessThanOrEqual(0);
        worstGrad = Math.max(worstGrad, maxAbsDiff(mine, ref));
      }
      // Own gradients into own AdamW, compared end to end (tiny gradients skipped: sign noise).
      const opt = new AdamW(model, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0.01 });
      await opt.step();
      const after = await model.stateDict();
      let worstAdam = 0;
      for (const p of expectedGrads) {
        const mine = p === WTE ? pickRows(after[p]!, rows) : (after[p]!.data as Float32Array);
        const ref = T(`adamw.${p}`).data as Float32Array;
        const g = T(`grad.${p}`).data as Float32Array;
        // The first AdamW step moves an element by about lr * sign(grad): skip elements whose sign float
        // noise decides (|grad| < 1e-6, the fixture README's rule); all others must agree to 1e-5.
        const undecided = (i: number): boolean => Math.abs(g[i]!) < 1e-6;
        expect(excess(mine, ref, 1e-5, 0, undecided), p).toBeLessThanOrEqual(0);
        worstAdam = Math.max(worstAdam, maxAbsDiff(mine, ref));
      }
      console.log(`${name}: max |Δ| gradients ${worstGrad.toExponential(2)}, params after AdamW ${worstAdam.toExponential(2)}`);
    });

    it('AdamW in isolation: both steps from the recorded gradients', async () => {
      const fresh = await VisionEncoderDecoder.fromPretrained(dir);
      const rows = T(`rows.${WTE}`).toArray();
      const names = Object.keys(cases).filter((k) => k.startsWith('grad.')).map((k) => k.slice(5));
      const shapes = Object.fromEntries(fresh.handle.parameterInfo().map((p) => [p.name, p.shape]));
      const gradsOf = (prefix: string): Record<string, Tensor> => Object.fromEntries(names.map((p) => {
        if (p !== WTE) return [p, T(`${prefix}.${p}`)];
        // only a row subset of the embedding gradient is recorded; AdamW is elementwise, so other rows
        // may hold anything: zeros
        const [V, E] = shapes[p]!;
        const full = new Float32Array(V! * E!);
        const sub = T(`${prefix}.${p}`).data as Float32Array;
        rows.forEach((r, i) => full.set(sub.subarray(i * E!, (i + 1) * E!), r * E!));
        return [p, Tensor.from(full, [V!, E!])];
      }));
      const opt = new AdamW(fresh, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0.01 });
      let worst = 0;
      for (const [step, gradKey, paramKey] of [[1, 'grad', 'adamw'], [2, 'grad2', 'adamw2']] as const) {
        await fresh.setGradients(gradsOf(gradKey));
        await opt.step();
        expect(opt.stepCount).toBe(step);
        const after = await fresh.stateDict();
        for (const p of names) {
          const mine = p === WTE ? pickRows(after[p]!, rows) : (after[p]!.data as Float32Array);
          const d = maxAbsDiff(mine, T(`${paramKey}.${p}`).data as Float32Array);
          expect(d, `${paramKey}.${p}`).toBeLessThanOrEqual(1e-6);
          worst = Math.max(worst, d);
        }
      }
      console.log(`${name}: AdamW in isolation, max |Δ| over two steps ${worst.toExponential(2)}`);
    });

    it('second batch: loss and gradients at the AdamW parameters', async () => {
      const out = await model.forward({ pixel_values: T('pixel_values2'), labels: T('labels2') });
      expect(Math.abs(out.loss! - meta.loss2)).toBeLessThanOrEqual(1e-4);
    });

    it('generates every fixture case token for token', async () => {
      const fresh = await VisionEncoderDecoder.fromPretrained(dir);
      const px = T('pixel_values') as Tensor<'float32'>;
      const dropped = new Set((meta.dropped_generation_cases ?? []).map((c: { name: string }) => c.name));
      let worstScore = 0;
      for (const c of meta.generation) {
        if (dropped.has(c.name)) continue;
        const idx: number[] = c.pixel_index;
        const per = px.size / px.shape[0]!;
        const data = new Float32Array(idx.length * per);
        idx.forEach((r, i) => data.set(px.data.subarray(r * per, (r + 1) * per), i * per));
        const input = Tensor.from(data, [idx.length, ...px.shape.slice(1)]);
        const out = await fresh.generate(input, c.settings);
        expect(out.sequences, c.name).toEqual(c.expected_sequences);
        if (c.expected_sequence_scores) {
          worstScore = Math.max(worstScore, maxAbsDiff(out.sequences_scores!, c.expected_sequence_scores));
          expect(maxAbsDiff(out.sequences_scores!, c.expected_sequence_scores), c.name).toBeLessThanOrEqual(1e-4);
        }
      }
      console.log(`${name}: ${meta.generation.length - dropped.size} generation cases token-exact, max |Δ| beam score ${worstScore.toExponential(2)}`);
    });
  });
}
