// The DeiT / CLIP / BEiT encoders and BERT / RoBERTa / GPT-2 decoders end to end, as a user meets them:
// load -> save -> reload, legacy checkpoints, composing standalone hub checkpoints, and the pipeline.
import { afterAll, expect, it } from 'vitest';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWithFixtures } from '../helpers/fixtures.js';
import { readSafetensors, writeSafetensors } from '../../lib/models/safetensors.js';
import { VisionEncoderDecoder } from '../../lib/models/vision-encoder-decoder.js';
import { pipeline } from '../../lib/pipeline.js';
import { ImageProcessor, Tokenizer, type RawImage } from '../../lib/processing/index.js';
import { Tensor } from '../../lib/tensor.js';

const temps: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'tc-families-'));
  temps.push(d);
  return d;
};
afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

const bytes = (t: Tensor): Buffer => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
const sameTensor = (a: Tensor, b: Tensor): boolean => a.dtype === b.dtype && a.shape.join() === b.shape.join() && bytes(a).equals(bytes(b));

const FAMILIES = ['deit-bert-tiny', 'clip-roberta-tiny', 'beit-gpt2-tiny'] as const;
type Family = (typeof FAMILIES)[number];

/** Tied duplicates HF leaves out of the saved file (and its fixtures). */
const TIED: Record<Family, string[]> = {
  'deit-bert-tiny': ['decoder.cls.predictions.decoder.weight', 'decoder.cls.predictions.decoder.bias'],
  'clip-roberta-tiny': ['decoder.lm_head.decoder.weight', 'decoder.lm_head.decoder.bias'],
  'beit-gpt2-tiny': ['decoder.lm_head.weight'],
};

interface Cases {
  pixel_values: Tensor;
  images_uint8: Tensor;
  decoder_input_ids: Tensor;
  json: {
    generation: { name: string; pixel_index: number[]; settings: Record<string, number | boolean>; expected_sequences: number[][]; expected_text: string[] }[];
  };
}

describeWithFixtures('model families end to end', (fixtures) => {
  const modelDir = (name: Family): string => join(fixtures, 'models', name);
  const fixtureState = async (name: Family): Promise<Record<string, Tensor>> => (await readSafetensors(join(modelDir(name), 'model.safetensors'))).tensors;
  const fixtureConfig = (name: Family): Record<string, unknown> & { encoder: Record<string, unknown>; decoder: Record<string, unknown> } =>
    JSON.parse(readFileSync(join(modelDir(name), 'config.json'), 'utf8'));
  const cases = async (name: Family): Promise<Cases> => {
    const { tensors } = await readSafetensors(join(fixtures, 'models', `${name}.cases.safetensors`));
    return {
      pixel_values: tensors.pixel_values!, images_uint8: tensors.images_uint8!, decoder_input_ids: tensors.decoder_input_ids!,
      json: JSON.parse(readFileSync(join(fixtures, 'models', `${name}.cases.json`), 'utf8')),
    };
  };
  const logits = async (m: VisionEncoderDecoder, c: Cases): Promise<Tensor> =>
    (await m.forward({ pixel_values: c.pixel_values, decoder_input_ids: c.decoder_input_ids })).logits;

  // ------------------------------------------------------------------ 1. load / save round trips

  for (const name of FAMILIES) {
    it(`${name}: fromPretrained -> save writes the fixture's tensors byte for byte; the reload gives identical logits`, async () => {
      const src = modelDir(name);
      const m = await VisionEncoderDecoder.fromPretrained(src);
      const out = tmp();
      await m.save(out);
      const a = await fixtureState(name);
      const b = (await readSafetensors(join(out, 'model.safetensors'))).tensors;
      expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
      for (const k of TIED[name]) expect(b, k).not.toHaveProperty(k);
      for (const k of Object.keys(a)) expect(sameTensor(b[k]!, a[k]!), k).toBe(true);

      const reloaded = await VisionEncoderDecoder.fromPretrained(out);
      expect(reloaded.config.encoder.model_type).toBe(m.config.encoder.model_type);
      expect(reloaded.config.decoder.model_type).toBe(m.config.decoder.model_type);
      for (const k of ['decoder_start_token_id', 'pad_token_id', 'eos_token_id'] as const) expect(reloaded.config[k]).toBe(m.config[k]);
      const c = await cases(name);
      expect(sameTensor(await logits(reloaded, c), await logits(m, c))).toBe(true);
    });
  }

  it('checkpoints with legacy buffers and explicit tied weights load with nothing reported', async () => {
    // Older hub checkpoints carry the position-id buffers, BEiT's relative_position_index and BERT/RoBERTa's
    // tied decoder weight and bias; transformers ignores them on load, and so must fromPretrained.
    const extras = async (name: Family, s: Record<string, Tensor>): Promise<Record<string, Tensor>> => {
      const cfg = fixtureConfig(name);
      const positions = (n: number, from = 0): Tensor => Tensor.int64(Array.from({ length: n }, (_, i) => i + from), [1, n]);
      if (name === 'deit-bert-tiny') {
        return {
          'decoder.bert.embeddings.position_ids': positions(cfg.decoder.max_position_embeddings as number),
          'decoder.bert.embeddings.token_type_ids': Tensor.int64(new Array(cfg.decoder.max_position_embeddings as number).fill(0), [1, cfg.decoder.max_position_embeddings as number]),
          'decoder.cls.predictions.decoder.weight': s['decoder.bert.embeddings.word_embeddings.weight']!,
          'decoder.cls.predictions.decoder.bias': s['decoder.cls.predictions.bias']!,
        };
      }
      if (name === 'clip-roberta-tiny') {
        return {
          'encoder.vision_model.embeddings.position_ids': positions(17),
          'decoder.roberta.embeddings.position_ids': positions(cfg.decoder.max_position_embeddings as number),
          'decoder.lm_head.decoder.weight': s['decoder.roberta.embeddings.word_embeddings.weight']!,
          'decoder.lm_head.decoder.bias': s['decoder.lm_head.bias']!,
        };
      }
      // BEiT: relative_position_index per layer ([17*17] of table rows), as BeitSelfAttention registered it.
      const index = Tensor.int64(Array.from({ length: 17 * 17 }, (_, i) => i % 52), [17, 17]);
      const out: Record<string, Tensor> = { 'decoder.lm_head.weight': s['decoder.transformer.wte.weight']! };
      for (let l = 0; l < (cfg.encoder.num_hidden_layers as number); l++) {
        out[`encoder.encoder.layer.${l}.attention.attention.relative_position_bias.relative_position_index`] = index;
      }
      return out;
    };
    for (const name of FAMILIES) {
      const state = await fixtureState(name);
      const dir = tmp();
      copyFileSync(join(modelDir(name), 'config.json'), join(dir, 'config.json'));
      await writeSafetensors(join(dir, 'model.safetensors'), { ...state, ...(await extras(name, state)) });
      const m = await VisionEncoderDecoder.fromPretrained(dir);
      const report = await m.loadWeightsFile(join(dir, 'model.safetensors'));
      expect(report, name).toEqual({ missing: [], unexpected: [] });
      const ref = await VisionEncoderDecoder.fromPretrained(modelDir(name));
      const c = await cases(name);
      expect(sameTensor(await logits(m, c), await logits(ref, c)), name).toBe(true);
    }
  });

  // ------------------------------------------------------------------ 2. composing standalone checkpoints

  /** Write one standalone checkpoint folder: config.json + model.safetensors. */
  const writePart = async (config: Record<string, unknown>, tensors: Record<string, Tensor>): Promise<string> => {
    const dir = tmp();
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
    await writeSafetensors(join(dir, 'model.safetensors'), tensors);
    return dir;
  };
  /** The fixture's tensors under `from`, renamed by `rename` (null: left out). */
  const part = (state: Record<string, Tensor>, from: string, rename: (k: string) => string | null): Record<string, Tensor> => {
    const out: Record<string, Tensor> = {};
    for (const [k, t] of Object.entries(state)) {
      if (!k.startsWith(from)) continue;
      const r = rename(k.slice(from.length));
      if (r !== null) out[r] = t;
    }
    return out;
  };
  /** The decoder config of a plain (non-captioning) checkpoint. */
  const plainDecoderConfig = (name: Family): Record<string, unknown> => ({ ...fixtureConfig(name).decoder, add_cross_attention: false, is_decoder: false });
  const noCross = (k: string): boolean => !/crossattention|ln_cross_attn/.test(k);

  const composedEquals = async (m: VisionEncoderDecoder, fixture: Record<string, Tensor>, isNew: (k: string) => boolean) => {
    const got = await m.stateDict();
    expect(Object.keys(got).sort()).toEqual(Object.keys(fixture).sort());
    const differ: string[] = [];
    for (const [k, t] of Object.entries(fixture)) if (!isNew(k) && !sameTensor(got[k]!, t)) differ.push(k);
    expect(differ).toEqual([]);
    return got;
  };
  const newParams = (fixture: Record<string, Tensor>, re: RegExp): string[] => Object.keys(fixture).filter((k) => re.test(k)).sort();

  const composeWarnings = (): { codes: string[]; stop: () => void } => {
    const codes: string[] = [];
    const on = (w: Error & { code?: string }) => void codes.push(w.code ?? '');
    process.on('warning', on);
    return { codes, stop: () => void process.off('warning', on) };
  };

  it('deit + bert: DeiTForImageClassification and BertLMHeadModel folders compose; only cross-attention (and the pooler the classifier lacks) is new', async () => {
    const name = 'deit-bert-tiny';
    const fixture = await fixtureState(name);
    const cfg = fixtureConfig(name);
    // DeiTForImageClassificationWithTeacher-style: deit.* without pooler, plus the heads.
    const enc = part(fixture, 'encoder.', (k) => (k.startsWith('pooler.') ? null : `deit.${k}`));
    const encDir = await writePart({ ...cfg.encoder, architectures: ['DeiTForImageClassification'] }, {
      ...enc, 'classifier.weight': Tensor.from(new Float32Array(2 * 32).fill(0.5), [2, 32]), 'classifier.bias': Tensor.zeros([2], 'float32'),
    });
    // BertLMHeadModel: bert.* and cls.*; no cross-attention; the tied decoder weight stored explicitly as old files do.
    const dec = part(fixture, 'decoder.', (k) => (noCross(k) ? k : null));
    const decDir = await writePart(plainDecoderConfig(name), {
      ...dec, 'cls.predictions.decoder.weight': fixture['decoder.bert.embeddings.word_embeddings.weight']!,
      'bert.pooler.dense.weight': Tensor.zeros([32, 32], 'float32'), 'bert.pooler.dense.bias': Tensor.zeros([32], 'float32'),
    });
    const w = composeWarnings();
    let m: VisionEncoderDecoder;
    try {
      m = await VisionEncoderDecoder.fromEncoderDecoderPretrained(encDir, decDir, { seed: 3 });
      await new Promise((r) => setImmediate(r));
    } finally {
      w.stop();
    }
    expect(m.config.decoder).toMatchObject({ model_type: 'bert', add_cross_attention: true, is_decoder: true });
    expect(m.config.encoder.model_type).toBe('deit');
    const isNew = (k: string) => /crossattention|encoder\.pooler\./.test(k);
    const got = await composedEquals(m, fixture, isNew);
    expect(m.loadReport!.newly_initialized).toEqual(newParams(fixture, /crossattention|encoder\.pooler\./));
    expect(m.loadReport!.unused).toEqual(['bert.pooler.dense.bias', 'bert.pooler.dense.weight', 'classifier.bias', 'classifier.weight']);
    expect(w.codes).toEqual(expect.arrayContaining(['TORCH_CAPTION_NEWLY_INITIALIZED', 'TORCH_CAPTION_UNUSED_WEIGHTS']));
    // Fresh cross-attention is HF-initialised: LayerNorm 1/0, biases 0, weights small and random.
    expect(Array.from(got['decoder.bert.encoder.layer.0.crossattention.output.LayerNorm.weight']!.data as Float32Array).every((v) => v === 1)).toBe(true);
    expect(Array.from(got['decoder.bert.encoder.layer.0.crossattention.self.key.bias']!.data as Float32Array).every((v) => v === 0)).toBe(true);
    expect(sameTensor(got['decoder.bert.encoder.layer.0.crossattention.self.key.weight']!, fixture['decoder.bert.encoder.layer.0.crossattention.self.key.weight']!)).toBe(false);
    // Captioning runs on the composition with the decoder's own ids (HF leaves decoder_start unset for BERT).
    expect(m.config.pad_token_id).toBe(0);
  });

  it('deit + bert: a bare DeiTModel (with pooler) and a bare BertModel compose; only cross-attention is new', async () => {
    const name = 'deit-bert-tiny';
    const fixture = await fixtureState(name);
    const cfg = fixtureConfig(name);
    const encDir = await writePart({ ...cfg.encoder, architectures: ['DeiTModel'] }, part(fixture, 'encoder.', (k) => k));
    // BertModel: no bert. prefix and no cls head: the head is then missing, which is an error unless allowed.
    const bare = part(fixture, 'decoder.bert.', (k) => (noCross(k) ? k : null));
    const bareDir = await writePart({ ...plainDecoderConfig(name), architectures: ['BertModel'] }, bare);
    await expect(VisionEncoderDecoder.fromEncoderDecoderPretrained(encDir, bareDir)).rejects.toThrow(/lack: .*decoder\.cls\.predictions/);
    const m0 = await VisionEncoderDecoder.fromEncoderDecoderPretrained(encDir, bareDir, { allowMissing: true });
    expect(m0.loadReport!.newly_initialized).toEqual(newParams(fixture, /crossattention|decoder\.cls\./));
    // BertModel bare names plus the cls head (a BertForMaskedLM-like mix) load with only cross-attention new.
    const mixed = { ...bare, ...part(fixture, 'decoder.cls.', (k) => `cls.${k}`) };
    const decDir = await writePart({ ...plainDecoderConfig(name), architectures: ['BertForMaskedLM'] }, mixed);
    const m = await VisionEncoderDecoder.fromEncoderDecoderPretrained(encDir, decDir, { seed: 1 });
    await composedEquals(m, fixture, (k) => /crossattention/.test(k));
    expect(m.loadReport!.newly_initialized).toEqual(newParams(fixture, /crossattention/));
    expect(m.loadReport!.unused).toEqual([]);
  });

  it('clip + roberta: CLIPVisionModel and RobertaForCausalLM folders compose; only cross-attention is new', async () => {
    const name = 'clip-roberta-tiny';
    const fixture = await fixtureState(name);
    const cfg = fixtureConfig(name);
    const encDir = await writePart({ ...cfg.encoder, architectures: ['CLIPVisionModel'] }, {
      ...part(fixture, 'encoder.', (k) => k), 'vision_model.embeddings.position_ids': Tensor.int64(Array.from({ length: 17 }, (_, i) => i), [1, 17]),
    });
    const decDir = await writePart({ ...plainDecoderConfig(name), architectures: ['RobertaForCausalLM'] }, {
      ...part(fixture, 'decoder.', (k) => (noCross(k) ? k : null)),
      'lm_head.decoder.weight': fixture['decoder.roberta.embeddings.word_embeddings.weight']!, 'lm_head.decoder.bias': fixture['decoder.lm_head.bias']!,
    });
    const m = await VisionEncoderDecoder.fromEncoderDecoderPretrained(encDir, decDir, { seed: 2 });
    expect(m.config.encoder.model_type).toBe('clip_vision_model');
    expect(m.config.decoder).toMatchObject({ model_type: 'roberta', add_cross_attention: true });
    await composedEquals(m, fixture, (k) => /crossattention/.test(k));
    expect(m.loadReport!.newly_initialized).toEqual(newParams(fixture, /crossattention/));
    expect(m.loadReport!.unused).toEqual([]);
    // RobertaConfig's ids carry over: bos <s> 0 is the start, </s> 2 ends, <pad> 1 pads.
    expect([m.config.decoder_start_token_id, m.config.eos_token_id, m.config.pad_token_id]).toEqual([0, 2, 1]);
  });

  it('clip + roberta: a full CLIPModel folder (model_type clip) is the encoder; its text tower is reported unused', async () => {
    const name = 'clip-roberta-tiny';
    const fixture = await fixtureState(name);
    const cfg = fixtureConfig(name);
    const vision = { ...cfg.encoder };
    delete vision.model_type;
    const clipConfig = {
      model_type: 'clip', architectures: ['CLIPModel'], projection_dim: 16, logit_scale_init_value: 2.6592,
      vision_config: { ...vision, model_type: 'clip_vision_model' },
      text_config: { model_type: 'clip_text_model', hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2, vocab_size: 10, max_position_embeddings: 8 },
    };
    const text = {
      'text_model.embeddings.token_embedding.weight': Tensor.zeros([10, 16], 'float32'),
      'text_model.embeddings.position_embedding.weight': Tensor.zeros([8, 16], 'float32'),
      'text_model.final_layer_norm.weight': Tensor.zeros([16], 'float32'),
      'text_model.final_layer_norm.bias': Tensor.zeros([16], 'float32'),
      'text_projection.weight': Tensor.zeros([16, 16], 'float32'),
      'visual_projection.weight': Tensor.zeros([16, 32], 'float32'),
      logit_scale: Tensor.from(new Float32Array([2.6592]), []),
    };
    const encDir = await writePart(clipConfig, { ...part(fixture, 'encoder.', (k) => k), ...text });
    const decDir = await writePart(plainDecoderConfig(name), part(fixture, 'decoder.', (k) => (noCross(k) ? k : null)));
    const m = await VisionEncoderDecoder.fromEncoderDecoderPretrained(encDir, decDir);
    expect(m.config.encoder).toMatchObject({ model_type: 'clip_vision_model', hidden_size: 32, image_size: 32, patch_size: 8 });
    await composedEquals(m, fixture, (k) => /crossattention/.test(k));
    expect(m.loadReport!.newly_initialized).toEqual(newParams(fixture, /crossattention/));
    expect(m.loadReport!.unused).toEqual(Object.keys(text).sort());
  });

  it('beit + gpt2: BeitForImageClassification and GPT2LMHeadModel folders compose; cross-attention and enc_to_dec_proj are new', async () => {
    const name = 'beit-gpt2-tiny';
    const fixture = await fixtureState(name);
    const cfg = fixtureConfig(name);
    const index = Tensor.int64(Array.from({ length: 17 * 17 }, (_, i) => i % 52), [17, 17]);
    const enc = part(fixture, 'encoder.', (k) => `beit.${k}`);
    for (const l of [0, 1]) enc[`beit.encoder.layer.${l}.attention.attention.relative_position_bias.relative_position_index`] = index;
    const encDir = await writePart({ ...cfg.encoder, architectures: ['BeitForImageClassification'] }, {
      ...enc, 'classifier.weight': Tensor.zeros([3, 32], 'float32'), 'classifier.bias': Tensor.zeros([3], 'float32'),
    });
    const decDir = await writePart({ ...plainDecoderConfig(name), architectures: ['GPT2LMHeadModel'] }, {
      ...part(fixture, 'decoder.', (k) => (noCross(k) ? k : null)), 'lm_head.weight': fixture['decoder.transformer.wte.weight']!,
    });
    const m = await VisionEncoderDecoder.fromEncoderDecoderPretrained(encDir, decDir, { seed: 4 });
    expect(m.config.encoder.model_type).toBe('beit');
    const isNew = (k: string) => /crossattention|ln_cross_attn|enc_to_dec_proj/.test(k);
    const got = await composedEquals(m, fixture, isNew);
    expect(m.loadReport!.newly_initialized).toEqual(newParams(fixture, /crossattention|ln_cross_attn|enc_to_dec_proj/));
    expect(m.loadReport!.newly_initialized).toContain('enc_to_dec_proj.weight');
    expect(m.loadReport!.unused).toEqual(['classifier.bias', 'classifier.weight']);
    expect(got['enc_to_dec_proj.weight']!.shape).toEqual([40, 32]);
    expect([m.config.decoder_start_token_id, m.config.eos_token_id, m.config.pad_token_id]).toEqual([50256, 50256, 50256]);
  });

  // ------------------------------------------------------------------ 4. the pipeline

  const rawImages = (c: Cases): RawImage[] => {
    const [n, h, w] = c.images_uint8.shape as [number, number, number, number];
    // The reader widens U8 to int32 (Tensor has no uint8 dtype).
    const all = Uint8Array.from(c.images_uint8.data as Int32Array);
    return Array.from({ length: n }, (_, i) => ({ data: all.subarray(i * h * w * 3, (i + 1) * h * w * 3), width: w, height: h, channels: 3 as const }));
  };

  for (const name of FAMILIES) {
    it(`${name}: pipeline('image-to-text') equals generate + decode and the fixture's greedy captions`, async () => {
      const dir = modelDir(name);
      const captioner = await pipeline('image-to-text', dir);
      const c = await cases(name);
      const greedy = c.json.generation.filter((g) => /^greedy_\d+$/.test(g.name));
      expect(greedy.length).toBeGreaterThan(0);
      const images = rawImages(c);
      // The fixture images are at the model size: the processor reproduces the fixture's pixel_values.
      const pixels = await captioner.imageProcessor.preprocess(images);
      let maxDiff = 0;
      (pixels.data as Float32Array).forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - (c.pixel_values.data as Float32Array)[i]!))));
      expect(maxDiff).toBeLessThan(1e-6);
      const out = await captioner(images, { max_length: 20 });
      for (const g of greedy) expect(out[g.pixel_index[0]!]!.generated_text, g.name).toBe(g.expected_text[0]);
      // by hand, on the fixture's own pixel_values
      const model = await VisionEncoderDecoder.fromPretrained(dir);
      const tok = await Tokenizer.fromPretrained(dir);
      const { sequences } = await model.generate(c.pixel_values, { max_length: 20 });
      for (const g of greedy) expect(sequences[g.pixel_index[0]!]).toEqual(g.expected_sequences[0]!.slice(0, sequences[g.pixel_index[0]!]!.length));
      expect(out.map((o) => o.generated_text)).toEqual(sequences.map((s) => tok.decode(s, { skip_special_tokens: true }).trim()));
      // and on real image files (resize, crop, RGB conversion), the same as by hand
      const files = ['flower.jpg', 'rgba.png', 'gray.jpg'].map((f) => join(fixtures, 'images', f));
      const fromFiles = await captioner(files, { num_beams: 2, max_length: 12 });
      const proc = await ImageProcessor.fromPretrained(dir);
      const beams = await model.generate(await proc.preprocess(files), { num_beams: 2, max_length: 12 });
      expect(fromFiles.map((o) => o.generated_text)).toEqual(beams.sequences.map((s) => tok.decode(s, { skip_special_tokens: true }).trim()));
      for (const o of fromFiles) expect(o.generated_text).not.toMatch(/\[CLS\]|\[SEP\]|\[PAD\]|<s>|<\/s>|<pad>|<\|endoftext\|>/);
    });
  }
});

