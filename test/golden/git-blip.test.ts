// Golden parity of GitForCausalLM and BlipForConditionalGeneration with the Hugging Face reference (ports of the
// current modeling code on the transformers 4.9 utilities, PyTorch 1.13): vision states, logits, losses, every
// gradient, AdamW steps, and generation token for token, prompts included. Tolerances: the fixtures README.
import { expect, it } from 'vitest';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { describeWithFixtures } from '../helpers/fixtures.js';
import { excess, maxAbsDiff, pickRows } from '../helpers/compare.js';
import { native, type RawTensor } from '../../lib/native.js';
import { Tensor } from '../../lib/tensor.js';
import { fromRaw } from '../../lib/models/captioning-model.js';
import { AutoModelForVision2Seq, type CaptionModel } from '../../lib/models/auto.js';
import { GitForCausalLM } from '../../lib/models/git.js';
import { BlipForConditionalGeneration } from '../../lib/models/blip.js';
import { AdamW } from '../../lib/optim/adamw.js';

/** [B, T, V] -> [B, T1 - T0, V] positions T0..T1. */
function positions(t: Tensor, from: number, to: number): Float32Array {
  const [B, T, V] = t.shape as [number, number, number];
  const out = new Float32Array(B * (to - from) * V);
  for (let b = 0; b < B; b++) out.set((t.data as Float32Array).subarray((b * T + from) * V, (b * T + to) * V), b * (to - from) * V);
  return out;
}

function rowsOf(t: Tensor, idx: number[]): Tensor<'float32'> {
  const per = t.size / t.shape[0]!;
  const data = new Float32Array(idx.length * per);
  idx.forEach((r, i) => data.set((t.data as Float32Array).subarray(r * per, (r + 1) * per), i * per));
  return Tensor.from(data, [idx.length, ...t.shape.slice(1)]) as Tensor<'float32'>;
}

for (const name of ['git-tiny', 'blip-tiny'] as const) {
  describeWithFixtures(`golden model ${name}`, (fixtures) => {
    const dir = join(fixtures, 'models', name);
    const meta = JSON.parse(readFileSync(join(fixtures, 'models', `${name}.cases.json`), 'utf8'));
    const vocabParams: string[] = meta.row_subset.tensors;
    const isGit = name === 'git-tiny';
    let cases: Record<string, RawTensor>;
    let model: CaptionModel;
    const T = (k: string): Tensor => fromRaw(cases[k]!);
    const batch = (suffix = '') => ({
      pixel_values: T(`pixel_values${suffix}`), input_ids: T(`input_ids${suffix}`), attention_mask: T(`attention_mask${suffix}`), labels: T(`labels${suffix}`),
    });

    it('AutoModelForVision2Seq picks the class; vision states, logits and losses match', async () => {
      cases = (await native().readSafetensors(join(fixtures, 'models', `${name}.cases.safetensors`))).tensors;
      model = await AutoModelForVision2Seq.fromPretrained(dir);
      expect(model).toBeInstanceOf(isGit ? GitForCausalLM : BlipForConditionalGeneration);
      const out = await model.forward(batch());
      const vision = maxAbsDiff(out.encoder_last_hidden_state.data, T('vision_last_hidden_state').data as Float32Array);
      expect(vision).toBeLessThanOrEqual(1e-5);
      let logits: number;
      if (isGit) {
        const N = meta.num_image_tokens as number;
        expect(out.logits.shape).toEqual([3, N + 9, 30522]);
        logits = maxAbsDiff(positions(out.logits, N, N + 9), T('logits_text').data as Float32Array);
        // the image positions at the stored vocabulary columns
        const cols = T('image_logit_cols').toArray();
        const full = positions(out.logits, 0, N);
        const picked = new Float32Array(3 * N * cols.length);
        for (let r = 0; r < 3 * N; r++) cols.forEach((c, j) => { picked[r * cols.length + j] = full[r * 30522 + c]!; });
        logits = Math.max(logits, maxAbsDiff(picked, T('logits_image_positions').data as Float32Array));
      } else {
        logits = maxAbsDiff(out.logits.data, T('logits').data as Float32Array);
      }
      expect(logits).toBeLessThanOrEqual(1e-4);
      expect(Math.abs(out.loss! - meta.loss)).toBeLessThanOrEqual(1e-4);
      // GIT: labels with -100 on padding; BLIP: the same batch without label smoothing
      const extra = isGit
        ? await model.forward({ ...batch(), labels: T('labels_pad_ignored') })
        : await model.forward(batch(), { label_smoothing: 0 });
      const extraRef = isGit ? meta.extra_losses.loss_pad_ignored : meta.extra_losses['loss_label_smoothing_0.0'];
      expect(Math.abs(extra.loss! - extraRef)).toBeLessThanOrEqual(1e-4);
      console.log(`${name}: max |Δ| vision ${vision.toExponential(2)}, logits ${logits.toExponential(2)}, loss ${Math.abs(out.loss! - meta.loss).toExponential(2)}`);
    });

    it('labels alone (the Trainer path) give the loss of HF input_ids + shifted labels', async () => {
      // HF: input_ids = [start] + caption, loss of logits[:, t] against labels[:, t + 1]. Labels alone: the
      // targets labels[:, 1:], whose shift right is the same text.
      const labels = T(isGit ? 'labels_pad_ignored' : 'labels');
      const [B, L] = labels.shape as [number, number];
      const rows = labels.toNested2D().map((r) => r.slice(1));
      const targets = Tensor.int64(rows);
      expect(targets.shape).toEqual([B, L - 1]);
      const hf = await model.forward({ ...batch(), labels }, { label_smoothing: 0 });
      const trainer = await model.forward({ pixel_values: T('pixel_values'), labels: targets }, { label_smoothing: 0 });
      expect(Math.abs(trainer.loss! - hf.loss!)).toBeLessThanOrEqual(1e-5);
    });

    it('reproduces every gradient and the AdamW step', async () => {
      await model.zeroGrad();
      await model.backward(batch());
      const grads = await model.gradients();
      const expected = Object.keys(cases).filter((k) => k.startsWith('grad.')).map((k) => k.slice(5));
      expect(Object.keys(grads).sort()).toEqual(expected.sort());
      let worstGrad = 0;
      for (const p of expected) {
        const mine = vocabParams.includes(p) ? pickRows(grads[p]!, T(`rows.${p}`).toArray()) : (grads[p]!.data as Float32Array);
        const ref = T(`grad.${p}`).data as Float32Array;
        expect(excess(mine, ref, 1e-4, 1e-3), p).toBeLessThanOrEqual(0);
        worstGrad = Math.max(worstGrad, maxAbsDiff(mine, ref));
      }
      const opt = new AdamW(model, meta.adamw ? { lr: meta.adamw.lr, betas: meta.adamw.betas, eps: meta.adamw.eps, weight_decay: meta.adamw.weight_decay } : {});
      await opt.step();
      const after = await model.stateDict();
      let worstAdam = 0;
      for (const p of expected) {
        const mine = vocabParams.includes(p) ? pickRows(after[p]!, T(`rows.${p}`).toArray()) : (after[p]!.data as Float32Array);
        const g = T(`grad.${p}`).data as Float32Array;
        const ref = T(`adamw.${p}`).data as Float32Array;
        expect(excess(mine, ref, 1e-5, 0, (i) => Math.abs(g[i]!) < 1e-6), p).toBeLessThanOrEqual(0);
        worstAdam = Math.max(worstAdam, maxAbsDiff(mine, ref));
      }
      // the second batch at the stepped parameters
      const out2 = await model.forward(batch('2'));
      expect(Math.abs(out2.loss! - meta.loss2)).toBeLessThanOrEqual(1e-4);
      console.log(`${name}: max |Δ| gradients ${worstGrad.toExponential(2)}, params after AdamW ${worstAdam.toExponential(2)}`);
    });

    it('AdamW in isolation: both steps from the recorded gradients', async () => {
      const fresh = await AutoModelForVision2Seq.fromPretrained(dir);
      const names = Object.keys(cases).filter((k) => k.startsWith('grad.')).map((k) => k.slice(5));
      const shapes = Object.fromEntries(fresh.handle.parameterInfo().map((p) => [p.name, p.shape]));
      const gradsOf = (prefix: string): Record<string, Tensor> => Object.fromEntries(names.map((p) => {
        if (!vocabParams.includes(p)) return [p, T(`${prefix}.${p}`)];
        // only a row subset is recorded; AdamW is elementwise, so other rows may hold anything: zeros
        const shape = shapes[p]!;
        const per = shape.length > 1 ? shape[1]! : 1;
        const full = new Float32Array(shape.reduce((a, b) => a * b, 1));
        const sub = T(`${prefix}.${p}`).data as Float32Array;
        T(`rows.${p}`).toArray().forEach((r, i) => full.set(sub.subarray(i * per, (i + 1) * per), r * per));
        return [p, Tensor.from(full, shape)];
      }));
      const opt = new AdamW(fresh, { lr: meta.adamw.lr, betas: meta.adamw.betas, eps: meta.adamw.eps, weight_decay: meta.adamw.weight_decay });
      let worst = 0;
      for (const [gradKey, paramKey] of [['grad', 'adamw'], ['grad2', 'adamw2']] as const) {
        await fresh.setGradients(gradsOf(gradKey));
        await opt.step();
        const after = await fresh.stateDict();
        for (const p of names) {
          const mine = vocabParams.includes(p) ? pickRows(after[p]!, T(`rows.${p}`).toArray()) : (after[p]!.data as Float32Array);
          const d = maxAbsDiff(mine, T(`${paramKey}.${p}`).data as Float32Array);
          expect(d, `${paramKey}.${p}`).toBeLessThanOrEqual(1e-6);
          worst = Math.max(worst, d);
        }
      }
      console.log(`${name}: AdamW in isolation, max |Δ| over two steps ${worst.toExponential(2)}`);
    });

    it('generates every fixture case token for token (prompts included) with the reference beam scores', async () => {
      const fresh = await AutoModelForVision2Seq.fromPretrained(dir);
      let worstScore = 0;
      let n = 0;
      for (const c of meta.generation) {
        const input = rowsOf(T(c.pixel_tensor ?? 'pixel_values'), c.pixel_index);
        const out = await fresh.generate(input, { ...c.settings, ...(c.prompt_input_ids ? { input_ids: c.prompt_input_ids } : {}) });
        expect(out.sequences, c.name).toEqual(c.expected_sequences);
        for (const s of out.sequences) expect(s.slice(0, c.start_ids.length), c.name).toEqual(c.start_ids);
        if (c.expected_sequence_scores) {
          const d = maxAbsDiff(out.sequences_scores!, c.expected_sequence_scores);
          expect(d, c.name).toBeLessThanOrEqual(1e-4);
          worstScore = Math.max(worstScore, d);
        }
        n++;
      }
      expect(n).toBe(meta.generation.length);
      console.log(`${name}: ${n} generation cases token-exact, max |Δ| beam score ${worstScore.toExponential(2)}`);
    });
  });
}
