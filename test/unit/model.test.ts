// Model API properties that need no golden file: deterministic init, save -> load identity, composition
// from separate encoder/decoder checkpoints, sampling behaviour, errors.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { VisionEncoderDecoder } from '../../lib/models/vision-encoder-decoder.js';
import { tinyConfig, normalizeConfig } from '../../lib/models/config.js';
import { readSafetensors, writeSafetensors } from '../../lib/models/safetensors.js';
import { AdamW } from '../../lib/optim/adamw.js';
import { Tensor } from '../../lib/tensor.js';
import { UnsupportedConfigError } from '../../lib/errors.js';
import { describeWithFixtures } from '../helpers/fixtures.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'tc-model-'));

function pixels(batch: number, size = 32, seed = 0): Tensor<'float32'> {
  const n = batch * 3 * size * size;
  return Tensor.from(Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + seed)), [batch, 3, size, size]) as Tensor<'float32'>;
}

const labels = Tensor.int64([[5, 6, 7, 99], [8, 9, 99, -100]]);

describe('VisionEncoderDecoder', () => {
  for (const encoder of ['vit', 'swin'] as const) {
    it(`${encoder}: fromConfig with the same seed gives identical weights, another seed different ones`, async () => {
      const cfg = tinyConfig({ vocabSize: 100, encoder });
      const a = await (await VisionEncoderDecoder.fromConfig(cfg, { seed: 3 })).stateDict();
      const b = await (await VisionEncoderDecoder.fromConfig(cfg, { seed: 3 })).stateDict();
      const c = await (await VisionEncoderDecoder.fromConfig(cfg, { seed: 4 })).stateDict();
      for (const k of Object.keys(a)) expect(b[k]!.data, k).toEqual(a[k]!.data);
      expect(c['decoder.transformer.wte.weight']!.data).not.toEqual(a['decoder.transformer.wte.weight']!.data);
      // HF-style init: LayerNorm ones/zeros, zero biases
      expect(new Set(a['decoder.transformer.ln_f.weight']!.toArray())).toEqual(new Set([1]));
      expect(new Set(a['decoder.transformer.h.0.attn.c_attn.bias']!.toArray())).toEqual(new Set([0]));
    });

    it(`${encoder}: save -> load gives identical outputs and identical files`, async () => {
      const m = await VisionEncoderDecoder.fromConfig(tinyConfig({ vocabSize: 100, encoder }), { seed: 1 });
      const dir = tmp();
      await m.save(dir);
      const back = await VisionEncoderDecoder.fromPretrained(dir);
      const px = pixels(2);
      const o1 = await m.forward({ pixel_values: px, labels });
      const o2 = await back.forward({ pixel_values: px, labels });
      expect(o2.loss).toBe(o1.loss);
      expect(o2.logits.data).toEqual(o1.logits.data);
      const dir2 = tmp();
      await back.save(dir2);
      expect(readFileSync(join(dir2, 'model.safetensors'))).toEqual(readFileSync(join(dir, 'model.safetensors')));
      expect(JSON.parse(readFileSync(join(dir2, 'config.json'), 'utf8'))).toEqual(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')));
    });
  }

  it('forward, backward, gradients, zeroGrad, train/eval and dropout', async () => {
    const cfg = tinyConfig({ vocabSize: 100 });
    (cfg.decoder as { resid_pdrop: number }).resid_pdrop = 0.5;
    const m = await VisionEncoderDecoder.fromConfig(cfg, { seed: 1 });
    const px = pixels(2);
    const e1 = await m.forward({ pixel_values: px, labels });
    const e2 = await m.forward({ pixel_values: px, labels });
    expect(e1.loss).toBe(e2.loss); // eval: deterministic
    expect(e1.logits.shape).toEqual([2, 4, 100]);
    m.train();
    const t1 = await m.forward({ pixel_values: px, labels });
    expect(t1.loss).not.toBe(e1.loss); // dropout active in training mode
    m.eval();
    const { loss } = await m.backward({ pixel_values: px, labels });
    expect(loss).toBeCloseTo(e1.loss!, 6);
    const g = await m.gradients();
    expect(Object.keys(g)).toContain('decoder.transformer.h.0.crossattention.q_attn.weight');
    expect(Object.keys(g)).not.toContain('encoder.pooler.dense.weight'); // unused by captioning
    m.zeroGrad();
    expect(Object.keys(await m.gradients())).toEqual([]);
    expect(m.numParameters()).toBeGreaterThan(m.numParameters({ trainableOnly: true }) - 1);
  });

  it('sampling: same seed -> same output, different seeds differ, top_k = 1 equals greedy', async () => {
    const m = await VisionEncoderDecoder.fromConfig(tinyConfig({ vocabSize: 100 }), { seed: 5 });
    const px = pixels(2);
    const greedy = await m.generate(px, { max_length: 12, min_length: 12 });
    const k1 = await m.generate(px, { max_length: 12, min_length: 12, do_sample: true, top_k: 1, seed: 9 });
    expect(k1.sequences).toEqual(greedy.sequences);
    const a = await m.generate(px, { max_length: 12, min_length: 12, do_sample: true, top_k: 0, temperature: 2, seed: 1 });
    const b = await m.generate(px, { max_length: 12, min_length: 12, do_sample: true, top_k: 0, temperature: 2, seed: 1 });
    const c = await m.generate(px, { max_length: 12, min_length: 12, do_sample: true, top_k: 0, temperature: 2, seed: 2 });
    expect(a.sequences).toEqual(b.sequences);
    expect(c.sequences).not.toEqual(a.sequences);
    const n = await m.generate(px, { max_length: 8, do_sample: true, num_return_sequences: 3, seed: 1, top_p: 0.9 });
    expect(n.sequences.length).toBe(6);
  });

  it('beam search returns num_return_sequences ranked hypotheses with scores', async () => {
    const m = await VisionEncoderDecoder.fromConfig(tinyConfig({ vocabSize: 100 }), { seed: 5 });
    await fc.assert(fc.asyncProperty(fc.integer({ min: 2, max: 4 }), fc.integer({ min: 1, max: 2 }), async (beams, ret) => {
      const out = await m.generate(pixels(2, 32, beams), { num_beams: beams, num_return_sequences: ret, max_length: 10 });
      expect(out.sequences.length).toBe(2 * ret);
      expect(out.sequences_scores!.length).toBe(2 * ret);
      for (let i = 0; i < 2; i++) {
        const s = out.sequences_scores!.slice(i * ret, (i + 1) * ret);
        expect([...s].sort((x, y) => y - x)).toEqual(s);
      }
      for (const seq of out.sequences) expect(seq[0]).toBe(99);
    }), { numRuns: 6 });
  });

  it('generation after a training step or a weight load uses the new weights (inference lm_head copy is refreshed)', async () => {
    // Beam search runs several rows through the lm_head, the path that keeps a transposed weight copy.
    const opts = { num_beams: 3, max_length: 8, min_length: 8 };
    const px = pixels(1, 32, 7);
    const m = await VisionEncoderDecoder.fromConfig(tinyConfig({ vocabSize: 100 }), { seed: 9 });
    const before = await m.generate(px, opts);
    const opt = new AdamW(m, { lr: 0.05 });
    await m.backward({ pixel_values: pixels(2), labels });
    await opt.step();
    const afterStep = await m.generate(px, opts);
    const fresh = await VisionEncoderDecoder.fromConfig(tinyConfig({ vocabSize: 100 }), { seed: 1 });
    await fresh.generate(px, opts); // builds its copy from its own (different) weights
    await fresh.loadStateDict(await m.stateDict());
    const reloaded = await fresh.generate(px, opts);
    expect(afterStep.sequences_scores).not.toEqual(before.sequences_scores);
    expect(reloaded.sequences).toEqual(afterStep.sequences);
    expect(reloaded.sequences_scores).toEqual(afterStep.sequences_scores);
  });

  it('rejects bad generation options with the nearest valid name', async () => {
    const m = await VisionEncoderDecoder.fromConfig(tinyConfig({ vocabSize: 100 }));
    await expect(m.generate(pixels(1), { num_beam: 3 } as never)).rejects.toThrow(/Unknown generation option 'num_beam'; did you mean 'num_beams'/);
    await expect(m.generate(pixels(1), { top_p: 2 })).rejects.toThrow(/top_p/);
    await expect(m.generate(pixels(1), { max_length: 500 })).rejects.toThrow(/n_positions/);
  });

  it('fails loudly on unsupported config values', () => {
    const cfg = tinyConfig() as unknown as Record<string, Record<string, unknown>>;
    expect(() => normalizeConfig({ ...cfg, encoder: { ...cfg.encoder, model_type: 'convnext' } })).toThrow(UnsupportedConfigError);
    expect(() => normalizeConfig({ ...cfg, decoder: { ...cfg.decoder, activation_function: 'gelu_fast' } })).toThrow(/activation_function/);
    expect(() => normalizeConfig({ ...cfg, decoder: { ...cfg.decoder, add_cross_attention: false } })).toThrow(/cross-attention/);
    expect(() => normalizeConfig({ ...cfg, encoder: { model_type: 'swin', use_absolute_embeddings: true } })).toThrow(/use_absolute_embeddings/);
  });

  it('fromEncoderDecoderPretrained composes separate checkpoints and initialises cross-attention', async () => {
    const full = await VisionEncoderDecoder.fromConfig(tinyConfig({ vocabSize: 100 }), { seed: 7 });
    const state = await full.stateDict();
    const cfg = full.config;
    const encDir = tmp(), decDir = tmp();
    writeFileSync(join(encDir, 'config.json'), JSON.stringify(cfg.encoder));
    const decCfg = { ...cfg.decoder, add_cross_attention: false };
    writeFileSync(join(decDir, 'config.json'), JSON.stringify(decCfg));
    const pick = (prefix: string, filter: (k: string) => boolean, rename: (k: string) => string) =>
      Object.fromEntries(Object.entries(state).filter(([k]) => k.startsWith(prefix) && filter(k)).map(([k, v]) => [rename(k), v]));
    await writeSafetensors(join(encDir, 'model.safetensors'), pick('encoder.', () => true, (k) => 'vit.' + k.slice(8)));
    await writeSafetensors(join(decDir, 'model.safetensors'), pick('decoder.', (k) => !/crossattention|ln_cross_attn/.test(k), (k) => k.slice(8)));
    const m = await VisionEncoderDecoder.fromEncoderDecoderPretrained(encDir, decDir, { seed: 1 });
    const got = await m.stateDict();
    expect(got['encoder.encoder.layer.0.attention.attention.query.weight']!.data).toEqual(state['encoder.encoder.layer.0.attention.attention.query.weight']!.data);
    expect(got['decoder.transformer.h.1.mlp.c_fc.weight']!.data).toEqual(state['decoder.transformer.h.1.mlp.c_fc.weight']!.data);
    expect(got['decoder.transformer.h.0.crossattention.q_attn.weight']!.data).not.toEqual(state['decoder.transformer.h.0.crossattention.q_attn.weight']!.data);
    expect(m.config.decoder.add_cross_attention).toBe(true);
  });
});

describeWithFixtures('checkpoint round trip on the fixture models', (fixtures) => {
  for (const name of ['vit-gpt2-tiny', 'swin-gpt2-tiny']) {
    it(`${name}: load -> save reproduces every tensor of the file`, async () => {
      const src = join(fixtures, 'models', name);
      const m = await VisionEncoderDecoder.fromPretrained(src);
      const out = tmp();
      await m.save(out);
      const a = await readSafetensors(join(src, 'model.safetensors'));
      const b = await readSafetensors(join(out, 'model.safetensors'));
      expect(Object.keys(b.tensors).sort()).toEqual(Object.keys(a.tensors).sort());
      const bytes = (t: Tensor): Buffer => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
      for (const k of Object.keys(a.tensors)) expect(bytes(b.tensors[k]!).equals(bytes(a.tensors[k]!)), k).toBe(true);
    });

    it(`${name}: a checkpoint with an explicit tied lm_head.weight loads; a missing tensor is reported`, async () => {
      const src = join(fixtures, 'models', name);
      const { tensors } = await readSafetensors(join(src, 'model.safetensors'));
      const dir = tmp();
      for (const f of ['config.json']) writeFileSync(join(dir, f), readFileSync(join(src, f)));
      await writeSafetensors(join(dir, 'model.safetensors'), { ...tensors, 'decoder.lm_head.weight': tensors['decoder.transformer.wte.weight']! });
      await expect(VisionEncoderDecoder.fromPretrained(dir)).resolves.toBeDefined();
      const partial = { ...tensors };
      delete partial['decoder.transformer.ln_f.bias'];
      mkdirSync(join(dir, 'p'));
      writeFileSync(join(dir, 'p', 'config.json'), readFileSync(join(src, 'config.json')));
      await writeSafetensors(join(dir, 'p', 'model.safetensors'), partial);
      await expect(VisionEncoderDecoder.fromPretrained(join(dir, 'p'))).rejects.toThrow(/missing: decoder.transformer.ln_f.bias/);
      await expect(VisionEncoderDecoder.fromPretrained(join(dir, 'p'), { allowMissing: true })).resolves.toBeDefined();
    });
  }
});
