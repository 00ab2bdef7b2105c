// The image-processing and tokenizer side of GIT (CLIPImageProcessor + BertTokenizer) and BLIP
// (BlipImageProcessor + BertTokenizer with [DEC]/[ENC]) against models/git-tiny and models/blip-tiny:
// every photo of the cases at the model size (resized uint8 exact, pixel_values atol 1e-6 and their sha256) and
// at the hub default size (preprocessor_default), the synthetic batches, every tokenizer case, the special tokens;
// plus transformers' convert_to_rgb (alpha composited over white, Pillow's integer arithmetic) on hand-made images
// and the CLIP / BLIP config rules.
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithFixtures } from '../helpers/fixtures.js';
import { ImageProcessor, loadTokenizer, Tokenizer, type ImageProcessorConfigInput, type RgbImage } from '../../lib/processing/index.js';
import { compositeOverWhite } from '../../lib/processing/decode.js';
import { maxAbs, readSafetensors, tempDir, type StTensor } from './helpers.js';

interface PhotoSize {
  resized_hw: [number, number];
  crop_top_left?: [number, number];
  shape: number[];
  sha256_f32_le: string;
  sum: number;
}
interface Photo {
  file: string;
  pil_mode: string;
  width: number;
  height: number;
  index: number;
  model_size: PhotoSize;
  default_size: PhotoSize & { processor: Record<string, unknown> };
}
interface TokenizerCase {
  text: string;
  ids: number[];
  ids_no_special: number[];
  tokens: string[];
  decoded: string;
  decoded_skip_special: string;
}
interface Cases {
  family: string;
  photos: Photo[];
  preprocessor_default: ImageProcessorConfigInput;
  tokenizer_cases: TokenizerCase[];
}

const tmp = tempDir('tc-gitblip-');
afterAll(() => tmp.cleanup());

const stem = (file: string) => file.replace(/\.[^.]+$/, '');
const sha256 = (f: Float32Array) => createHash('sha256').update(new Uint8Array(f.buffer, f.byteOffset, f.byteLength)).digest('hex');

/** The rows of a U8 [B, H, W, 3] tensor as raw RGB images. */
function rawImages(t: StTensor): { data: Uint8Array; width: number; height: number; channels: 3 }[] {
  const [b, h, w, c] = t.shape as [number, number, number, number];
  expect(c).toBe(3);
  return Array.from({ length: b }, (_, i) => ({ data: (t.data as Uint8Array).subarray(i * h * w * 3, (i + 1) * h * w * 3), width: w, height: h, channels: 3 as const }));
}

/** The reference rescale + normalize of uint8 HWC: float32(u8 * (1/255)), then (x - mean) / std in float32, CHW. */
function normalizeHwc(img: RgbImage, mean: readonly number[], std: readonly number[]): Float32Array {
  const { width: w, height: h, data } = img;
  const out = new Float32Array(3 * h * w);
  for (let k = 0; k < 3; k++) {
    const m = Math.fround(mean[k]!);
    const s = Math.fround(std[k]!);
    for (let p = 0; p < h * w; p++) out[k * h * w + p] = Math.fround(Math.fround(Math.fround(data[p * 3 + k]! * (1 / 255)) - m) / s);
  }
  return out;
}

describeWithFixtures('GIT and BLIP image processors and tokenizers (models/git-tiny, models/blip-tiny)', (root) => {
  for (const model of ['git-tiny', 'blip-tiny'] as const) {
    describe(model, () => {
      const dir = join(root, 'models', model);
      const cases = JSON.parse(readFileSync(join(root, 'models', `${model}.cases.json`), 'utf8')) as Cases;
      const photoFile = (p: Photo) => join(root, 'images', p.file);
      let st: Record<string, StTensor>;
      let proc: ImageProcessor;
      beforeAll(async () => {
        st = readSafetensors(join(root, 'models', `${model}.cases.safetensors`));
        proc = await ImageProcessor.fromPretrained(dir);
      });

      it('fromPretrained reads the processor of the folder and writes it back', () => {
        const original = JSON.parse(readFileSync(join(dir, 'preprocessor_config.json'), 'utf8')) as Record<string, unknown>;
        const c = proc.config;
        expect(c.size).toEqual(original.size);
        expect(c.resample).toBe(original.resample);
        expect(c.image_mean).toEqual(original.image_mean);
        expect(c.image_std).toEqual(original.image_std);
        expect(c.do_convert_rgb).toBe(true);
        if (original.do_center_crop !== undefined) expect([c.do_center_crop, c.crop_size]).toEqual([original.do_center_crop, original.crop_size]);
        else expect(c.do_center_crop).toBeUndefined();
        const written = proc.toJSON();
        expect(written).toMatchObject(original);
        // BLIP has no feature-extractor class: its file round-trips exactly. CLIP adds CLIPFeatureExtractor.
        if (original.image_processor_type === 'BlipImageProcessor') expect(written).toEqual(original);
        else expect(Object.keys(written).filter((k) => !(k in original))).toEqual(['feature_extractor_type']);
      });

      it('every photo at the model size: resized uint8 exact, pixel_values atol 1e-6 and bit for bit (sha256)', async () => {
        expect(cases.photos.length).toBeGreaterThan(0);
        for (const p of cases.photos) {
          const name = `photo.${stem(p.file)}`;
          expect(proc.resizedSize(p.width, p.height), p.file).toEqual({ height: p.model_size.resized_hw[0], width: p.model_size.resized_hw[1] });
          const resized = await proc.resizeAndCrop(photoFile(p));
          const want = st[`${name}.resized_uint8`]!;
          expect([resized.height, resized.width, 3], p.file).toEqual(want.shape);
          expect(Buffer.from(resized.data).equals(Buffer.from(want.data as Uint8Array)), `${p.file} resized_uint8`).toBe(true);
          const pv = await proc.preprocess(photoFile(p));
          expect(pv.shape).toEqual([1, ...p.model_size.shape]);
          expect(maxAbs(pv.data, st[`${name}.pixel_values`]!.data as Float32Array).max, `${p.file} pixel_values`).toBeLessThanOrEqual(1e-6);
          expect(sha256(pv.data), `${p.file} sha256`).toBe(p.model_size.sha256_f32_le);
        }
        // The batch of all photos is photo_pixel_values (the tensor the photo generation cases use).
        const ordered = [...cases.photos].sort((a, b) => a.index - b.index);
        const batch = await proc.preprocess(ordered.map(photoFile));
        expect(batch.shape).toEqual(st.photo_pixel_values!.shape);
        expect(maxAbs(batch.data, st.photo_pixel_values!.data as Float32Array).max).toBeLessThanOrEqual(1e-6);
      });

      it('every photo at the hub default size (preprocessor_default): resized uint8 exact, pixel_values bit for bit', async () => {
        const hub = ImageProcessor.fromConfig(cases.preprocessor_default);
        const c = hub.config;
        for (const p of cases.photos) {
          const name = `photo.${stem(p.file)}`;
          expect(p.default_size.processor).toMatchObject({ resample: c.resample, size: c.size });
          expect(hub.resizedSize(p.width, p.height), p.file).toEqual({ height: p.default_size.resized_hw[0], width: p.default_size.resized_hw[1] });
          const resized = await hub.resizeAndCrop(photoFile(p));
          const want = st[`${name}.default.resized_uint8`]!;
          expect([resized.height, resized.width, 3], p.file).toEqual(want.shape);
          expect(Buffer.from(resized.data).equals(Buffer.from(want.data as Uint8Array)), `${p.file} default.resized_uint8`).toBe(true);
          // The default-size floats are not stored: rescale/normalize the stored bytes, and check the JSON's sha256.
          const pv = await hub.preprocess(photoFile(p));
          expect(pv.shape).toEqual([1, ...p.default_size.shape]);
          const ref = normalizeHwc({ data: want.data as Uint8Array, height: want.shape[0]!, width: want.shape[1]! }, c.image_mean, c.image_std);
          expect(maxAbs(pv.data, ref).max, `${p.file} default pixel_values`).toBeLessThanOrEqual(1e-6);
          expect(sha256(pv.data), `${p.file} default sha256`).toBe(p.default_size.sha256_f32_le);
        }
      });

      it('the synthetic batches (images_uint8, images2_uint8) give pixel_values and pixel_values2 (atol 1e-6)', async () => {
        for (const [images, expectedName] of [['images_uint8', 'pixel_values'], ['images2_uint8', 'pixel_values2']] as const) {
          const got = await proc.preprocess(rawImages(st[images]!));
          const want = st[expectedName]!;
          expect(got.shape).toEqual(want.shape);
          expect(maxAbs(got.data, want.data as Float32Array).max, expectedName).toBeLessThanOrEqual(1e-6);
        }
      });

      describe('tokenizer', () => {
        let tok: Tokenizer;
        beforeAll(async () => {
          const loaded = await loadTokenizer(dir);
          expect(loaded).toBeInstanceOf(Tokenizer);
          tok = loaded as Tokenizer;
        });

        it('encodes every tokenizer case exactly (ids, ids_no_special, tokens)', () => {
          expect(cases.tokenizer_cases.length).toBeGreaterThan(0);
          for (const c of cases.tokenizer_cases) {
            const label = JSON.stringify(c.text);
            const ids = tok.encode(c.text);
            expect(ids, label).toEqual(c.ids);
            expect(tok.encode(c.text, { add_special_tokens: false }), label).toEqual(c.ids_no_special);
            expect(ids.map((id) => tok.idToToken(id)), label).toEqual(c.tokens);
            // tokenize() is the same without the [CLS] ... [SEP] the post-processor adds.
            expect(tok.tokenize(c.text), label).toEqual(tok.encode(c.text, { add_special_tokens: false }).map((id) => tok.idToToken(id)));
          }
          expect(tok.encodeBatch(cases.tokenizer_cases.map((c) => c.text))).toEqual(cases.tokenizer_cases.map((c) => c.ids));
        });

        it('decodes every tokenizer case exactly (with and without special tokens)', () => {
          for (const c of cases.tokenizer_cases) {
            expect(tok.decode(c.ids), JSON.stringify(c.text)).toBe(c.decoded);
            expect(tok.decode(c.ids, { skip_special_tokens: true }), JSON.stringify(c.text)).toBe(c.decoded_skip_special);
          }
        });

        it('has the special tokens of the files', () => {
          const map = JSON.parse(readFileSync(join(dir, 'special_tokens_map.json'), 'utf8')) as Record<string, unknown>;
          const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, Record<string, unknown> | unknown>;
          expect([tok.pad_token_id, tok.unk_token_id, tok.cls_token_id, tok.sep_token_id, tok.mask_token_id]).toEqual([0, 100, 101, 102, 103]);
          expect(tok.vocab_size).toBe(30522);
          expect(tok.special_tokens_wrap).toEqual({ start: [tok.cls_token_id], end: [tok.sep_token_id] });
          if (model === 'blip-tiny') {
            const added = JSON.parse(readFileSync(join(dir, 'added_tokens.json'), 'utf8')) as Record<string, number>;
            const text = (config as { text_config: Record<string, unknown> }).text_config;
            expect(tok.bos_token).toBe(map.bos_token);
            expect(tok.bos_token_id).toBe(added[map.bos_token as string]);
            expect(tok.bos_token_id).toBe(text.bos_token_id);
            expect(tok.sep_token_id).toBe(text.sep_token_id);
            expect(tok.vocabSizeWithAddedTokens).toBe(text.vocab_size);
            for (const [content, id] of Object.entries(added)) {
              expect(tok.tokenToId(content)).toBe(id);
              expect(tok.added_tokens.find((t) => t.content === content)).toMatchObject({ id, special: true });
            }
            expect(tok.specialTokensMap()).toMatchObject({ additional_special_tokens: map.additional_special_tokens });
          } else {
            // GIT's tokenizer files name no bos token (BertTokenizer has none): generation starts from [CLS], the
            // model config's bos_token_id.
            expect(map.bos_token).toBeUndefined();
            expect(tok.bos_token).toBeNull();
            expect(tok.bos_token_id).toBeNull();
            expect(tok.cls_token_id).toBe((config as Record<string, unknown>).bos_token_id);
            expect(tok.sep_token_id).toBe((config as Record<string, unknown>).eos_token_id);
            expect(tok.vocabSizeWithAddedTokens).toBe(tok.vocab_size);
          }
        });

        it('saves files that load back with the same ids and special tokens', async () => {
          const out = join(tmp.dir, `${model}-tok`);
          await tok.save(out);
          const again = await Tokenizer.fromPretrained(out);
          expect([again.bos_token, again.bos_token_id, again.vocabSizeWithAddedTokens]).toEqual([tok.bos_token, tok.bos_token_id, tok.vocabSizeWithAddedTokens]);
          expect(again.added_tokens).toEqual(tok.added_tokens);
          expect(again.encodeBatch(cases.tokenizer_cases.map((c) => c.text))).toEqual(cases.tokenizer_cases.map((c) => c.ids));
          if (model === 'blip-tiny') {
            expect(JSON.parse(readFileSync(join(out, 'added_tokens.json'), 'utf8'))).toEqual(JSON.parse(readFileSync(join(dir, 'added_tokens.json'), 'utf8')));
          }
        });
      });
    });
  }

  it('BLIP: the ids of [DEC] and [ENC] come from added_tokens.json', async () => {
    // Swapped ids in added_tokens.json: a loader that numbered the special tokens itself would give [DEC] 30522.
    const dir = join(tmp.dir, 'blip-swapped');
    mkdirSync(dir, { recursive: true });
    for (const f of ['vocab.txt', 'tokenizer_config.json', 'special_tokens_map.json']) copyFileSync(join(root, 'models', 'blip-tiny', f), join(dir, f));
    writeFileSync(join(dir, 'added_tokens.json'), JSON.stringify({ '[ENC]': 30522, '[DEC]': 30523 }));
    const tok = await Tokenizer.fromPretrained(dir);
    expect([tok.bos_token, tok.bos_token_id, tok.tokenToId('[ENC]')]).toEqual(['[DEC]', 30523, 30522]);
    expect(tok.encode('[DEC] a [ENC]', { add_special_tokens: false })).toEqual([30523, 1037, 30522]);
    writeFileSync(join(dir, 'added_tokens.json'), JSON.stringify({ '[DEC]': 1037 }));
    await expect(Tokenizer.fromPretrained(dir)).rejects.toThrow(/added_tokens\.json.*1037.*"a"/);
  });

  it('reads the image_processor nested in processor_config.json when there is no preprocessor_config.json', async () => {
    for (const model of ['git-tiny', 'blip-tiny']) {
      const dir = join(tmp.dir, `${model}-processor-config`);
      mkdirSync(dir, { recursive: true });
      const image = JSON.parse(readFileSync(join(root, 'models', model, 'preprocessor_config.json'), 'utf8')) as Record<string, unknown>;
      writeFileSync(join(dir, 'processor_config.json'), JSON.stringify({ image_processor: image, processor_class: image.processor_class }));
      const nested = await ImageProcessor.fromPretrained(dir);
      const direct = await ImageProcessor.fromPretrained(join(root, 'models', model));
      expect(nested.config).toEqual(direct.config);
      expect(nested.toJSON()).toEqual(direct.toJSON());
    }
    const empty = join(tmp.dir, 'no-image-processor');
    mkdirSync(empty, { recursive: true });
    writeFileSync(join(empty, 'processor_config.json'), JSON.stringify({ processor_class: 'BlipProcessor' }));
    await expect(ImageProcessor.fromPretrained(empty)).rejects.toThrow(/preprocessor_config\.json/);
  });
});

describe('CLIP and BLIP image processor configs', () => {
  it('BlipImageProcessor: the transformers defaults, a fixed resize and no crop', () => {
    const blip = ImageProcessor.fromConfig({ image_processor_type: 'BlipImageProcessor' });
    expect(blip.config).toEqual({
      do_resize: true, size: { height: 384, width: 384 }, resample: 3, do_rescale: true, rescale_factor: 1 / 255, do_normalize: true,
      image_mean: [0.48145466, 0.4578275, 0.40821073], image_std: [0.26862954, 0.26130258, 0.27577711], do_convert_rgb: true,
    });
    expect(blip.resizedSize(640, 427)).toEqual({ height: 384, width: 384 });
    expect(blip.outputSize(640, 427)).toEqual({ height: 384, width: 384 });
    expect(blip.toJSON()).not.toHaveProperty('feature_extractor_type');
    expect(blip.toJSON()).toMatchObject({ image_processor_type: 'BlipImageProcessor' });
    expect(ImageProcessor.fromConfig({ image_processor_type: 'BlipImageProcessor', size: 32 }).config.size).toEqual({ height: 32, width: 32 });
    expect(() => ImageProcessor.fromConfig({ image_processor_type: 'BlipImageProcessor', size: { shortest_edge: 32 } })).toThrow(/BlipImageProcessor.*height and width/);
  });

  it('CLIPImageProcessor: an int size is the shortest edge (default_to_square=False), crop_size an int is square', () => {
    const clip = ImageProcessor.fromConfig({ feature_extractor_type: 'CLIPFeatureExtractor', size: 224, crop_size: 224 });
    expect(clip.config).toMatchObject({ size: { shortest_edge: 224 }, crop_size: { height: 224, width: 224 }, do_center_crop: true });
    // Long edge int(224 * 640 / 427) = 335 (truncated); portrait images keep the width as the short side.
    expect(clip.resizedSize(640, 427)).toEqual({ height: 224, width: 335 });
    expect(clip.resizedSize(427, 640)).toEqual({ height: 335, width: 224 });
    expect(clip.outputSize(640, 427)).toEqual({ height: 224, width: 224 });
    // ViT keeps an int as a square.
    expect(ImageProcessor.fromConfig({ size: 224 }).config.size).toEqual({ height: 224, width: 224 });
  });

  it('centre crop windows start at floor((size - crop) / 2) and pad with 0 where the crop is larger', async () => {
    // A 5x4 gradient: pixel (x, y) = (10 * x + y, 100 + y, 200 - x).
    const w = 5;
    const h = 4;
    const data = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set([10 * x + y, 100 + y, 200 - x], (y * w + x) * 3);
    const raw = { data, width: w, height: h, channels: 3 as const };
    const crop = await ImageProcessor.fromConfig({ do_resize: false, do_center_crop: true, crop_size: { height: 2, width: 2 } }).resizeAndCrop(raw);
    // top = (4 - 2) // 2 = 1, left = (5 - 2) // 2 = 1.
    expect(Array.from(crop.data)).toEqual([11, 101, 199, 21, 101, 198, 12, 102, 199, 22, 102, 198]);
    const pad = await ImageProcessor.fromConfig({ do_resize: false, do_center_crop: true, crop_size: { height: 4, width: 7 } }).resizeAndCrop(raw);
    // left = (5 - 7) // 2 = -1: one column of zeros on each side.
    expect([pad.width, pad.height]).toEqual([7, 4]);
    expect(Array.from(pad.data.subarray(0, 9))).toEqual([0, 0, 0, 0, 100, 200, 10, 100, 199]);
    expect(Array.from(pad.data.subarray(18, 21))).toEqual([0, 0, 0]);
  });
});

describe('convert_to_rgb (do_convert_rgb): alpha composited over white with Pillow alpha_composite arithmetic', () => {
  // Values derived by hand from Pillow's AlphaComposite.c with the opaque white background (dst a = 255):
  // coef1 = a * 128, coef2 = (255 - a) * 128, tmp = v * coef1 + 255 * coef2 + (0x80 << 7),
  // out = (((tmp >> 8) + tmp) >> 8) >> 7; a = 0 gives the background.
  //   (200, 100, 50, 128): tmp(200) = 200*16384 + 255*16256 + 16384 = 7438464 -> 29056 + 7438464 = 7467520 -> 29170 -> 227
  //   (1, 2, 3, 254): tmp(1) = 32512 + 32640 + 16384 = 81536 -> 318 + 81536 = 81854 -> 319 -> 2 (the float formula gives 2.0, 2.99, 3.99)
  const pixels = [
    { rgba: [200, 100, 50, 128], rgb: [227, 177, 152] },
    { rgba: [10, 20, 30, 0], rgb: [255, 255, 255] }, // fully transparent: white, whatever its stored RGB
    { rgba: [12, 34, 56, 255], rgb: [12, 34, 56] }, // fully opaque: unchanged
    { rgba: [255, 0, 128, 1], rgb: [255, 254, 255] },
    { rgba: [1, 2, 3, 254], rgb: [2, 3, 4] },
    { rgba: [0, 128, 255, 64], rgb: [191, 223, 255] },
  ];
  const rgba = new Uint8Array(pixels.flatMap((p) => p.rgba));
  const composited = pixels.flatMap((p) => p.rgb);
  const stored = pixels.flatMap((p) => p.rgba.slice(0, 3));
  let png: Buffer;
  beforeAll(async () => {
    png = await sharp(Buffer.from(rgba), { raw: { width: 3, height: 2, channels: 4 } }).png().toBuffer();
  });
  const noResize = { do_resize: false, do_rescale: false, do_normalize: false };

  it('an RGBA PNG decodes composited under do_convert_rgb and with the stored RGB without it', async () => {
    for (const type of ['BlipImageProcessor', 'CLIPImageProcessor']) {
      const proc = ImageProcessor.fromConfig({ image_processor_type: type });
      const img = await proc.decode(png);
      expect([img.width, img.height]).toEqual([3, 2]);
      expect(Array.from(img.data), type).toEqual(composited);
    }
    expect(Array.from((await ImageProcessor.fromConfig({ image_processor_type: 'BlipImageProcessor', do_convert_rgb: false }).decode(png)).data)).toEqual(stored);
    expect(Array.from((await ImageProcessor.fromConfig({}).decode(png)).data)).toEqual(stored);
    expect(Array.from((await ImageProcessor.fromConfig({ do_convert_rgb: true }).decode(png)).data)).toEqual(composited);
  });

  it('preprocess, resizeAndCrop and raw RGBA pixels composite the same way (exact and fast paths)', async () => {
    const proc = ImageProcessor.fromConfig({ ...noResize, do_convert_rgb: true });
    const chw = (rgb: number[]) => [0, 1, 2].flatMap((k) => rgb.filter((_, i) => i % 3 === k));
    for (const resizer of ['exact', 'fast'] as const) {
      expect(Array.from((await proc.preprocess(png, { resizer })).data), resizer).toEqual(chw(composited));
      expect(Array.from((await proc.resizeAndCrop(png, { resizer })).data), resizer).toEqual(composited);
    }
    const raw = { data: rgba, width: 3, height: 2, channels: 4 as const };
    expect(Array.from((await proc.preprocess([raw])).data)).toEqual(chw(composited));
    expect(Array.from((await ImageProcessor.fromConfig(noResize).preprocess([raw])).data)).toEqual(chw(stored));
  });

  it('gray + alpha: L -> RGBA gives R = G = B, then the same compositing', async () => {
    // (90, a 200): tmp = 90*25600 + 255*7040 + 16384 = 4113184 -> 16067 + 4113184 = 4129251 -> 16129 -> 126.
    const la = new Uint8Array([90, 200, 0, 77, 40, 255, 7, 0]);
    const want = [126, 126, 126, 178, 178, 178, 40, 40, 40, 255, 255, 255];
    const png2 = await sharp(Buffer.from(la), { raw: { width: 4, height: 1, channels: 2 } }).toColourspace('b-w').png().toBuffer();
    expect(png2[25]).toBe(4); // PNG colour type 4: gray + alpha (PIL mode LA)
    const proc = ImageProcessor.fromConfig({ image_processor_type: 'BlipImageProcessor' });
    expect(Array.from((await proc.decode(png2)).data)).toEqual(want);
    expect(Array.from(compositeOverWhite(la, 4, 2))).toEqual(want);
    expect(Array.from((await ImageProcessor.fromConfig({ ...noResize, do_convert_rgb: true }).preprocess([{ data: la, width: 4, height: 1, channels: 2 }])).data))
      .toEqual([0, 1, 2].flatMap((k) => want.filter((_, i) => i % 3 === k)));
  });

  it('an opaque pixel keeps every value (so images without alpha are unchanged)', () => {
    const all = new Uint8Array(256 * 4);
    for (let v = 0; v < 256; v++) all.set([v, 255 - v, v, 255], v * 4);
    const out = compositeOverWhite(all, 256, 4);
    for (let v = 0; v < 256; v++) expect([out[v * 3], out[v * 3 + 1], out[v * 3 + 2]]).toEqual([v, 255 - v, v]);
  });

  it('a truecolour PNG with a tRNS colour stays RGB (PIL opens it as mode RGB, which convert_to_rgb leaves alone)', async () => {
    const rgb = new Uint8Array([1, 2, 3, 200, 100, 50]);
    const plain = await sharp(Buffer.from(rgb), { raw: { width: 2, height: 1, channels: 3 } }).png().toBuffer();
    // Insert a tRNS chunk marking (1, 2, 3) transparent after IHDR (8 + 25 bytes).
    const { crc32 } = await import('node:zlib');
    const body = Buffer.concat([Buffer.from('tRNS'), Buffer.from([0, 1, 0, 2, 0, 3])]);
    const chunk = Buffer.alloc(4 + body.length + 4);
    chunk.writeUInt32BE(6, 0);
    body.copy(chunk, 4);
    chunk.writeUInt32BE(crc32(body) >>> 0, 4 + body.length);
    const trns = Buffer.concat([plain.subarray(0, 33), chunk, plain.subarray(33)]);
    expect((await sharp(trns).metadata()).hasAlpha).toBe(true);
    const proc = ImageProcessor.fromConfig({ image_processor_type: 'BlipImageProcessor' });
    expect(Array.from((await proc.decode(trns)).data)).toEqual(Array.from(rgb));
  });
});
