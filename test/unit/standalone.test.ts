// Standalone encoders and decoders (ViTModel, GPT2LMHeadModel, ...): HF-layout save and load, composing them
// into a VisionEncoderDecoder as objects or folders, and a composed model's model.encoder / model.decoder
// saved on their own and recomposed.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UnsupportedConfigError, InvalidArgumentError } from '../../lib/errors.js';
import { native, type RawTensor } from '../../lib/native.js';
import { tinyConfig } from '../../lib/models/config.js';
import { readSafetensors, readSafetensorsHeader, writeSafetensors } from '../../lib/models/safetensors.js';
import * as standalone from '../../lib/models/standalone.js';
import { GPT2LMHeadModel, SwinModel, ViTModel, type StandaloneModel } from '../../lib/models/standalone.js';
import { VisionEncoderDecoder, fromRaw } from '../../lib/models/vision-encoder-decoder.js';
import { Tensor } from '../../lib/tensor.js';
import { describeWithFixtures } from '../helpers/fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'tc-standalone-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const tmp = (): string => join(root, `d${n++}`);

const VIT = { model_type: 'vit', image_size: 32, patch_size: 8, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 64 };
const GPT2 = {
  model_type: 'gpt2', vocab_size: 100, n_positions: 64, n_embd: 32, n_layer: 2, n_head: 4, resid_pdrop: 0.0, embd_pdrop: 0.0, attn_pdrop: 0.0,
  bos_token_id: 99, eos_token_id: 99, pad_token_id: 99,
};
const pixels = Tensor.from(new Float32Array(2 * 3 * 32 * 32).map((_, i) => Math.sin(i / 7)), [2, 3, 32, 32]) as Tensor<'float32'>;
const ids = Tensor.int64([[99, 5, 6, 7, 8], [99, 9, 10, 11, 99]]);

function sameTensor(a: Tensor | undefined, b: Tensor | undefined): boolean {
  if (!a || !b || a.dtype !== b.dtype || a.shape.join() !== b.shape.join()) return false;
  const x = new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength);
  const y = new Uint8Array(b.data.buffer, b.data.byteOffset, b.data.byteLength);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/** Bit-for-bit equal state dicts (same names); returns the names that differ. */
function differing(a: Record<string, Tensor>, b: Record<string, Tensor>): string[] {
  expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
  return Object.keys(a).filter((k) => !sameTensor(a[k], b[k]));
}

/** The `prefix`* tensors of a state dict with the prefix removed. */
function under(state: Record<string, Tensor>, prefix: string): Record<string, Tensor> {
  return Object.fromEntries(Object.entries(state).filter(([k]) => k.startsWith(prefix)).map(([k, t]) => [k.slice(prefix.length), t]));
}

const configJson = (dir: string): Record<string, unknown> => JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));

describe('standalone models: fromConfig -> save -> fromPretrained', () => {
  it('ViTModel: HF ViTModel keys (no prefix, pooler kept), config.json model_type/architectures, identical tensors and outputs', async () => {
    const vit = await ViTModel.fromConfig(VIT, { seed: 1 });
    const dir = tmp();
    await vit.save(dir);
    expect(configJson(dir)).toMatchObject({ model_type: 'vit', architectures: ['ViTModel'], hidden_size: 32, image_size: 32 });
    const names = (await readSafetensorsHeader(join(dir, 'model.safetensors'))).map((e) => e.name);
    expect(names).toEqual(expect.arrayContaining([
      'embeddings.cls_token', 'embeddings.position_embeddings', 'embeddings.patch_embeddings.projection.weight',
      'encoder.layer.0.attention.attention.query.weight', 'encoder.layer.1.layernorm_after.bias', 'layernorm.weight', 'pooler.dense.weight',
    ]));
    expect(names.filter((k) => !/^(embeddings|encoder\.layer\.\d+|layernorm|pooler)\./.test(k))).toEqual([]);
    const back = await ViTModel.fromPretrained(dir);
    expect(back.loadReport).toEqual({ newly_initialized: [], unused: [] });
    expect(differing(await back.stateDict(), await vit.stateDict())).toEqual([]);
    const a = await vit.forward({ pixel_values: pixels });
    const b = await back.forward({ pixel_values: pixels });
    expect(a.last_hidden_state.shape).toEqual([2, 17, 32]);
    expect(sameTensor(a.last_hidden_state, b.last_hidden_state)).toBe(true);
  });

  it('GPT2LMHeadModel: transformer.* keys, tied lm_head.weight not saved, config.json model_type/architectures, identical tensors', async () => {
    const gpt2 = await GPT2LMHeadModel.fromConfig(GPT2, { seed: 2 });
    const dir = tmp();
    await gpt2.save(dir);
    expect(configJson(dir)).toMatchObject({ model_type: 'gpt2', architectures: ['GPT2LMHeadModel'], n_embd: 32, add_cross_attention: false });
    const names = (await readSafetensorsHeader(join(dir, 'model.safetensors'))).map((e) => e.name);
    expect(names.every((k) => k.startsWith('transformer.'))).toBe(true);
    expect(names).toEqual(expect.arrayContaining(['transformer.wte.weight', 'transformer.wpe.weight', 'transformer.h.1.attn.c_attn.weight', 'transformer.ln_f.bias']));
    expect(names.some((k) => /crossattention|lm_head/.test(k))).toBe(false);
    const back = await GPT2LMHeadModel.fromPretrained(dir);
    expect(differing(await back.stateDict(), await gpt2.stateDict())).toEqual([]);
    expect(Array.from((await back.forward({ input_ids: ids })).logits.data)).toEqual(Array.from((await gpt2.forward({ input_ids: ids })).logits.data));
  });

  it('SwinModel round trips under SwinModel keys; a ViTForImageClassification folder loads into ViTModel (vit. stripped, head unused, pooler new)', async () => {
    const swin = await SwinModel.fromConfig({ image_size: 32, patch_size: 4, embed_dim: 16, depths: [2, 2], num_heads: [2, 4], window_size: 4, drop_path_rate: 0 }, { seed: 3 });
    const dir = tmp();
    await swin.save(dir);
    expect(configJson(dir)).toMatchObject({ model_type: 'swin', architectures: ['SwinModel'] });
    const state = await swin.stateDict();
    expect(Object.keys(state).every((k) => /^(embeddings|encoder\.layers\.\d+|layernorm)\./.test(k))).toBe(true);
    expect(differing(await (await SwinModel.fromPretrained(dir)).stateDict(), state)).toEqual([]);

    const vit = await ViTModel.fromConfig(VIT, { seed: 4 });
    const vitState = await vit.stateDict();
    const cls = tmp();
    await (await ViTModel.fromConfig(VIT)).save(cls); // for config.json
    const tensors: Record<string, Tensor> = { 'classifier.weight': Tensor.zeros([2, 32], 'float32'), 'classifier.bias': Tensor.zeros([2], 'float32') };
    for (const [k, t] of Object.entries(vitState)) if (!k.startsWith('pooler.')) tensors[`vit.${k}`] = t;
    await writeSafetensors(join(cls, 'model.safetensors'), tensors);
    const loaded = await ViTModel.fromPretrained(cls);
    expect(loaded.loadReport).toEqual({ newly_initialized: ['pooler.dense.bias', 'pooler.dense.weight'], unused: ['classifier.bias', 'classifier.weight'] });
    const got = await loaded.stateDict();
    expect(Object.keys(vitState).filter((k) => !k.startsWith('pooler.') && !sameTensor(got[k], vitState[k]))).toEqual([]);
  });

  it('a config of another model_type names the class that reads it', async () => {
    await expect(ViTModel.fromConfig({ model_type: 'swin' })).rejects.toThrow(UnsupportedConfigError);
    await expect(ViTModel.fromConfig({ model_type: 'swin' })).rejects.toThrow(/cannot be loaded as ViTModel.*SwinModel/);
    await expect(GPT2LMHeadModel.fromConfig(tinyConfig())).rejects.toThrow(/VisionEncoderDecoder\.fromPretrained/);
  });
});

describe('GPT2LMHeadModel loss', () => {
  it('input_ids = labels: the loss is the shifted cross-entropy of its own logits (position t predicts token t + 1)', async () => {
    const gpt2 = await GPT2LMHeadModel.fromConfig(GPT2, { seed: 5 });
    const out = await gpt2.forward({ input_ids: ids, labels: ids });
    const [B, T, V] = out.logits.shape as [number, number, number];
    const logits = out.logits.data as Float32Array;
    const rows = ids.toNested2D();
    let sum = 0;
    let count = 0;
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T - 1; t++) {
        const row = logits.subarray((b * T + t) * V, (b * T + t + 1) * V);
        const max = Math.max(...row);
        const lse = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
        sum += lse - row[rows[b]![t + 1]!]!;
        count++;
      }
    }
    expect(out.loss).toBeCloseTo(sum / count, 5);
    // -100 labels are ignored, as HF's loss does.
    const masked = Tensor.int64([[99, 5, 6, 7, 8], [99, 9, 10, 11, -100]]);
    const m = await gpt2.forward({ input_ids: ids, labels: masked });
    const last = logits.subarray((1 * T + T - 2) * V, (1 * T + T - 1) * V);
    const mx = Math.max(...last);
    const lastTerm = mx + Math.log(last.reduce((s, x) => s + Math.exp(x - mx), 0)) - last[99]!;
    expect(m.loss).toBeCloseTo((sum - lastTerm) / (count - 1), 5);
  });

  it('training mode turns the decoder\'s dropout on (the part reads its own flag)', async () => {
    const gpt2 = await GPT2LMHeadModel.fromConfig({ ...GPT2, embd_pdrop: 0.5 }, { seed: 6 });
    const a = Array.from((await gpt2.forward({ input_ids: ids })).logits.data);
    gpt2.train();
    const b = Array.from((await gpt2.forward({ input_ids: ids })).logits.data);
    gpt2.eval();
    const c = Array.from((await gpt2.forward({ input_ids: ids })).logits.data);
    expect(b).not.toEqual(a);
    expect(c).toEqual(a);
  });
});

describe('fromEncoderDecoderPretrained with standalone models', () => {
  it('objects compose exactly as their saved folders do (same seed: same model, bit for bit)', async () => {
    const vit = await ViTModel.fromConfig(VIT, { seed: 7 });
    const gpt2 = await GPT2LMHeadModel.fromConfig(GPT2, { seed: 8 });
    const vitDir = tmp();
    const gpt2Dir = tmp();
    await vit.save(vitDir);
    await gpt2.save(gpt2Dir);
    const fromObjects = await VisionEncoderDecoder.fromEncoderDecoderPretrained(vit, gpt2, { seed: 9 });
    const fromDirs = await VisionEncoderDecoder.fromEncoderDecoderPretrained(vitDir, gpt2Dir, { seed: 9 });
    const state = await fromObjects.stateDict();
    expect(differing(state, await fromDirs.stateDict())).toEqual([]);
    expect(fromObjects.loadReport).toEqual(fromDirs.loadReport);
    expect(fromObjects.loadReport!.newly_initialized.every((k) => /crossattention|ln_cross_attn/.test(k))).toBe(true);
    expect(fromObjects.config.decoder).toMatchObject({ add_cross_attention: true, is_decoder: true });
    expect(differing(under(state, 'encoder.'), await vit.stateDict())).toEqual([]);
    const dec = under(state, 'decoder.');
    const plain = await gpt2.stateDict();
    expect(Object.keys(plain).filter((k) => !sameTensor(dec[k], plain[k]))).toEqual([]);
    expect(gpt2.config.add_cross_attention).toBe(false); // the object's config is not changed by composing
  });
});

describe('model.encoder / model.decoder of a VisionEncoderDecoder', () => {
  it('save on their own in the standalone layout, reload as ViTModel / GPT2LMHeadModel, and recompose into the same model', async () => {
    const model = await VisionEncoderDecoder.fromConfig(tinyConfig({ vocabSize: 100 }), { seed: 10 });
    const full = await model.stateDict();
    expect(model.config.encoder.model_type).toBe('vit'); // config.encoder is still the config
    expect(model.encoder.config).toBe(model.config.encoder);
    const encDir = tmp();
    const decDir = tmp();
    await model.encoder.save(encDir);
    await model.decoder.save(decDir);
    expect(configJson(encDir)).toMatchObject({ model_type: 'vit', architectures: ['ViTModel'] });
    expect(configJson(decDir)).toMatchObject({ model_type: 'gpt2', architectures: ['GPT2LMHeadModel'], add_cross_attention: true, is_decoder: true });
    const decFile = await readSafetensors(join(decDir, 'model.safetensors'));
    expect(decFile.metadata).toEqual({ format: 'pt' });
    expect(Object.keys(decFile.tensors).some((k) => k.includes('.crossattention.'))).toBe(true);
    expect(differing(decFile.tensors, under(full, 'decoder.'))).toEqual([]);

    const vit = await ViTModel.fromPretrained(encDir);
    expect(differing(await vit.stateDict(), under(full, 'encoder.'))).toEqual([]);
    // The decoder with its cross-attention is a GPT2LMHeadModel over encoder_hidden_states: the composed logits.
    const gpt2 = await GPT2LMHeadModel.fromPretrained(decDir);
    expect(differing(await gpt2.stateDict(), under(full, 'decoder.'))).toEqual([]);
    const composed = await model.forward({ pixel_values: pixels, decoder_input_ids: ids });
    const { last_hidden_state } = await vit.forward({ pixel_values: pixels });
    expect(sameTensor(last_hidden_state, composed.encoder_last_hidden_state)).toBe(true);
    const split = await gpt2.forward({ input_ids: ids, encoder_hidden_states: last_hidden_state });
    expect(sameTensor(split.logits, composed.logits)).toBe(true);
    await expect(gpt2.forward({ input_ids: ids })).rejects.toThrow(InvalidArgumentError);

    const rebuilt = await VisionEncoderDecoder.fromEncoderDecoderPretrained(encDir, decDir, { seed: 11 });
    expect(rebuilt.loadReport).toEqual({ newly_initialized: [], unused: [] });
    expect(differing(await rebuilt.stateDict(), full)).toEqual([]);
    // The parts themselves are accepted as objects too.
    const again = await VisionEncoderDecoder.fromEncoderDecoderPretrained(model.encoder, model.decoder, { seed: 12 });
    expect(differing(await again.stateDict(), full)).toEqual([]);
  });
});

describeWithFixtures('golden: vit-gpt2-tiny split into its parts and recomposed', (fixtures) => {
  it('model.encoder.save + model.decoder.save, then fromEncoderDecoderPretrained: identical logits on the fixture\'s pixel_values', async () => {
    const dir = join(fixtures, 'models', 'vit-gpt2-tiny');
    const cases: Record<string, RawTensor> = (await native().readSafetensors(join(fixtures, 'models', 'vit-gpt2-tiny.cases.safetensors'))).tensors;
    const inputs = { pixel_values: fromRaw(cases.pixel_values!), labels: fromRaw(cases.labels!) };
    const model = await VisionEncoderDecoder.fromPretrained(dir);
    const encDir = tmp();
    const decDir = tmp();
    await model.encoder.save(encDir);
    await model.decoder.save(decDir);
    const recomposed = await VisionEncoderDecoder.fromEncoderDecoderPretrained(encDir, decDir);
    expect(recomposed.loadReport).toEqual({ newly_initialized: [], unused: [] });
    expect(recomposed.specialTokenIds).toEqual(model.specialTokenIds);
    const a = await model.forward(inputs);
    const b = await recomposed.forward(inputs);
    expect(sameTensor(b.logits, a.logits)).toBe(true);
    expect(b.loss).toBe(a.loss);
    const ref = cases.logits!.data as Float32Array;
    let worst = 0;
    b.logits.data.forEach((v, i) => void (worst = Math.max(worst, Math.abs(v - ref[i]!))));
    expect(worst).toBeLessThanOrEqual(1e-4);
  });

  for (const name of ['swin-gpt2-tiny', 'deit-bert-tiny', 'clip-roberta-tiny', 'beit-gpt2-tiny']) {
    it(`${name}: the parts load as their standalone classes and recompose (enc_to_dec_proj, in neither part, fresh)`, async () => {
      const dir = join(fixtures, 'models', name);
      const cases: Record<string, RawTensor> = (await native().readSafetensors(join(fixtures, 'models', `${name}.cases.safetensors`))).tensors;
      const inputs = { pixel_values: fromRaw(cases.pixel_values!), labels: fromRaw(cases.labels!) };
      const model = await VisionEncoderDecoder.fromPretrained(dir);
      const full = await model.stateDict();
      const encDir = tmp();
      const decDir = tmp();
      await model.encoder.save(encDir);
      await model.decoder.save(decDir);
      for (const [d, prefix] of [[encDir, 'encoder.'], [decDir, 'decoder.']] as const) {
        const cls = (standalone as unknown as Record<string, { fromPretrained(dir: string): Promise<StandaloneModel> }>)[(configJson(d).architectures as string[])[0]!]!;
        const part = await cls.fromPretrained(d);
        expect(differing(await part.stateDict(), under(full, prefix)), `${name} ${prefix}`).toEqual([]);
        if (prefix === 'encoder.') {
          const out = await (part as standalone.VisionEncoderModel).forward({ pixel_values: inputs.pixel_values });
          expect(sameTensor(out.last_hidden_state, (await model.forward(inputs)).encoder_last_hidden_state)).toBe(true);
        }
      }
      const recomposed = await VisionEncoderDecoder.fromEncoderDecoderPretrained(encDir, decDir);
      const proj = Object.keys(full).filter((k) => k.startsWith('enc_to_dec_proj.')).sort();
      expect(recomposed.loadReport).toEqual({ newly_initialized: proj, unused: [] });
      await recomposed.loadStateDict(Object.fromEntries(proj.map((k) => [k, full[k]!])), { strict: false });
      expect(differing(await recomposed.stateDict(), full)).toEqual([]);
      // The special ids live in the top-level config, not in the parts (a BERT decoder has no bos id): set as the tutorials do.
      Object.assign(recomposed.config, model.specialTokenIds);
      expect(sameTensor((await recomposed.forward(inputs)).logits, (await model.forward(inputs)).logits)).toBe(true);
    });
  }
});
