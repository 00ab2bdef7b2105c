// ImageProcessor without fixtures: config parsing and saving, decode semantics (alpha, 16-bit gray, CMYK
// formula), errors that name the file, pixel limits, shortest_edge, concurrency.
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { FormatError, InvalidArgumentError, UnsupportedConfigError } from '../../lib/errors.js';
import { ImageProcessor, parseImageProcessorConfig } from '../../lib/processing/index.js';
import { cmykToRgb, decodeRgb } from '../../lib/processing/decode.js';
import { png16Gray, tempDir } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

async function noiseJpeg(width: number, height: number, seed = 1): Promise<Buffer> {
  const px = Buffer.alloc(width * height * 3);
  let s = seed;
  for (let i = 0; i < px.length; i++) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    px[i] = ((i / 3) % width) + (s >> 26);
  }
  return sharp(px, { raw: { width, height, channels: 3 } }).jpeg({ quality: 85 }).toBuffer();
}

describe('config', () => {
  it("takes ViTImageProcessor's defaults", () => {
    expect(ImageProcessor.fromConfig().config).toEqual({
      do_resize: true,
      size: { height: 224, width: 224 },
      resample: 2,
      do_rescale: true,
      rescale_factor: 1 / 255,
      do_normalize: true,
      image_mean: [0.5, 0.5, 0.5],
      image_std: [0.5, 0.5, 0.5],
      do_convert_rgb: null,
    });
  });

  it('accepts the HF spellings of size and mean/std', () => {
    expect(parseImageProcessorConfig({ size: 384 }).size).toEqual({ height: 384, width: 384 });
    expect(parseImageProcessorConfig({ size: [32, 48] }).size).toEqual({ height: 32, width: 48 });
    expect(parseImageProcessorConfig({ size: { shortest_edge: 64 } }).size).toEqual({ shortest_edge: 64 });
    expect(parseImageProcessorConfig({ image_mean: 0.5, image_std: [0.25] }).image_std).toEqual([0.25, 0.25, 0.25]);
    expect(parseImageProcessorConfig({ feature_extractor_type: 'ViTFeatureExtractor', resample: 3 }).resample).toBe(3);
  });

  it('fails loudly on processors it does not implement, by name', () => {
    expect(() => ImageProcessor.fromConfig({ image_processor_type: 'DonutImageProcessor' })).toThrow(UnsupportedConfigError);
    expect(() => ImageProcessor.fromConfig({ image_processor_type: 'DonutImageProcessor' })).toThrow(/DonutImageProcessor/);
  });

  it('takes the DeiT, BEiT and CLIP processors with their own defaults (centre crop) and writes them back', () => {
    expect(ImageProcessor.fromConfig({ image_processor_type: 'DeiTImageProcessor' }).config).toEqual({
      do_resize: true, size: { height: 256, width: 256 }, resample: 3, do_rescale: true, rescale_factor: 1 / 255, do_normalize: true,
      image_mean: [0.485, 0.456, 0.406], image_std: [0.229, 0.224, 0.225], do_convert_rgb: null, do_center_crop: true, crop_size: { height: 224, width: 224 },
    });
    expect(ImageProcessor.fromConfig({ feature_extractor_type: 'BeitFeatureExtractor', do_center_crop: false }).config).toMatchObject({ size: { height: 256, width: 256 }, do_center_crop: false, image_mean: [0.5, 0.5, 0.5] });
    const clip = ImageProcessor.fromConfig({ image_processor_type: 'CLIPImageProcessor', crop_size: 32 });
    expect(clip.config).toMatchObject({ size: { shortest_edge: 224 }, do_convert_rgb: true, crop_size: { height: 32, width: 32 }, image_mean: [0.48145466, 0.4578275, 0.40821073] });
    expect(clip.toJSON()).toMatchObject({ image_processor_type: 'CLIPImageProcessor', feature_extractor_type: 'CLIPFeatureExtractor', do_center_crop: true, crop_size: { height: 32, width: 32 } });
    expect(ImageProcessor.fromConfig(clip.toJSON()).config).toEqual(clip.config);
    expect(clip.outputSize(640, 480)).toEqual({ height: 32, width: 32 });
    expect(() => ImageProcessor.fromConfig({ image_processor_type: 'DeiTImageProcessor', crop_size: [3] as never })).toThrow(/crop_size/);
  });

  it("centre-crops as transformers' center_crop: window at floor((size - crop) / 2), zero padding (before normalize) when the crop is larger", async () => {
    // 6 wide x 5 high, pixel value = 10 * row + col in every channel; no resize, rescale or normalize: values pass through.
    const w = 6, h = 5;
    const data = new Uint8Array(w * h * 3);
    for (let r = 0; r < h; r++) for (let q = 0; q < w; q++) data.fill(10 * r + q, (r * w + q) * 3, (r * w + q) * 3 + 3);
    const img = { data, width: w, height: h, channels: 3 as const };
    const plain = { image_processor_type: 'DeiTImageProcessor', do_resize: false, do_rescale: false, do_normalize: false };
    const small = await ImageProcessor.fromConfig({ ...plain, crop_size: { height: 3, width: 4 } }).preprocess(img);
    expect(small.shape).toEqual([1, 3, 3, 4]);
    expect(Array.from(small.data.subarray(0, 12))).toEqual([11, 12, 13, 14, 21, 22, 23, 24, 31, 32, 33, 34]);
    // crop 8 x 7 of 6 x 5: one padding row/column on each side (HF: top = (5 - 7) // 2 = -1, pad ceil(2 / 2) = 1).
    const big = await ImageProcessor.fromConfig({ ...plain, crop_size: { height: 7, width: 8 } }).preprocess(img);
    expect(Array.from(big.data.subarray(0, 8))).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(big.data.subarray(8, 16))).toEqual([0, 0, 1, 2, 3, 4, 5, 0]);
    // normalized, the padding is (0 - mean) / std
    const norm = await ImageProcessor.fromConfig({ ...plain, do_normalize: true, image_mean: [0.5, 0.25, 0], image_std: [0.5, 0.5, 1], crop_size: { height: 7, width: 8 } }).preprocess(img);
    expect([norm.data[0], norm.data[56], norm.data[112]]).toEqual([-1, -0.5, 0]);
    // a batch of differently sized images crops to one size
    const tall = { data: new Uint8Array(4 * 9 * 3).fill(7), width: 4, height: 9, channels: 3 as const };
    const both = await ImageProcessor.fromConfig({ ...plain, crop_size: { height: 3, width: 4 } }).preprocess([img, tall]);
    expect(both.shape).toEqual([2, 3, 3, 4]);
    expect(Array.from(both.data.subarray(36, 40))).toEqual([7, 7, 7, 7]);
  });

  it('rejects bad values with "Expected X for Y but received Z"', () => {
    expect(() => ImageProcessor.fromConfig({ resample: 7 })).toThrow(/Expected a PIL resampling filter 0\.\.5.* for resample but received number 7/);
    expect(() => ImageProcessor.fromConfig({ size: -1 })).toThrow(InvalidArgumentError);
    expect(() => ImageProcessor.fromConfig({ image_mean: [1, 2] })).toThrow(/for image_mean but received array of length 2/);
    expect(() => ImageProcessor.fromConfig({ image_std: [1, 0, 1] })).toThrow(/non-zero/);
    expect(() => ImageProcessor.fromConfig({ do_resize: 'yes' as never })).toThrow(/Expected a boolean for do_resize/);
    expect(() => ImageProcessor.fromConfig({}, { resample: 'bilinear' as never })).toThrow(/Expected a PIL resampling filter 0\.\.5.*or resizer 'exact' \| 'fast' for options.resample/);
    expect(() => ImageProcessor.fromConfig({}, { resizer: 'quick' as never })).toThrow(/Expected 'exact' or 'fast' for options.resizer/);
    expect(() => ImageProcessor.fromConfig({}, { resizer: 'exact', resample: 'fast' as never })).toThrow(/old spelling of resizer.*keep resizer/);
    expect(() => ImageProcessor.fromConfig({}, { concurrency: 0 })).toThrow(/options.concurrency/);
  });

  it('saves preprocessor_config.json in the HF layout and loads it back', async () => {
    const dir = join(tmp.dir, 'saved');
    const proc = ImageProcessor.fromConfig({ size: 48, resample: 3, image_mean: [0.485, 0.456, 0.406], image_std: [0.229, 0.224, 0.225], processor_class: 'X' });
    await proc.save(dir);
    const json = JSON.parse(await readFile(join(dir, 'preprocessor_config.json'), 'utf8')) as Record<string, unknown>;
    expect(json).toMatchObject({
      image_processor_type: 'ViTImageProcessor',
      size: { height: 48, width: 48 },
      resample: 3,
      do_rescale: true,
      rescale_factor: 1 / 255,
      processor_class: 'X',
    });
    const again = await ImageProcessor.fromPretrained(dir);
    expect(again.config).toEqual(proc.config);
  });

  it('reports a missing or broken preprocessor_config.json', async () => {
    await expect(ImageProcessor.fromPretrained(join(tmp.dir, 'nope'))).rejects.toThrow(/preprocessor_config\.json/);
    const dir = join(tmp.dir, 'broken');
    await import('node:fs/promises').then((fs) => fs.mkdir(dir, { recursive: true }));
    writeFileSync(join(dir, 'preprocessor_config.json'), '{"size": ');
    await expect(ImageProcessor.fromPretrained(dir)).rejects.toThrow(FormatError);
  });
});

describe('decode (PIL convert("RGB") semantics)', () => {
  it('drops alpha without compositing, even for fully transparent pixels', async () => {
    const rgba = Buffer.from([10, 20, 30, 0, 200, 100, 50, 128, 1, 2, 3, 255, 90, 80, 70, 0]);
    const png = await sharp(rgba, { raw: { width: 2, height: 2, channels: 4 } }).png().toBuffer();
    const img = await decodeRgb(png);
    expect(Array.from(img.data)).toEqual([10, 20, 30, 200, 100, 50, 1, 2, 3, 90, 80, 70]);
  });

  it('turns grayscale into R = G = B', async () => {
    const png = await sharp(Buffer.from([0, 77, 200, 255]), { raw: { width: 2, height: 2, channels: 1 } }).png().toBuffer();
    const img = await decodeRgb(png);
    expect(Array.from(img.data)).toEqual([0, 0, 0, 77, 77, 77, 200, 200, 200, 255, 255, 255]);
  });

  it('clips 16-bit grayscale to 0..255 as PIL mode "I" does', async () => {
    const img = await decodeRgb(png16Gray(4, 1, [0, 100, 255, 40000]));
    expect(Array.from(img.data)).toEqual([0, 0, 0, 100, 100, 100, 255, 255, 255, 255, 255, 255]);
  });

  it("uses PIL's naive CMYK formula", () => {
    // nk = 255 - K; R = clip(nk - MULDIV255(C, nk))
    const rgb = cmykToRgb(Uint8Array.from([0, 0, 0, 0, 255, 255, 255, 0, 100, 50, 0, 100, 10, 20, 30, 255]), 4);
    expect(Array.from(rgb)).toEqual([255, 255, 255, 0, 0, 0, 94, 125, 155, 0, 0, 0]);
  });

  it('decodes a CMYK JPEG through the raw CMYK samples', async () => {
    const cmyk = Buffer.alloc(8 * 8 * 4);
    for (let i = 0; i < 64; i++) cmyk.set([i * 3, 255 - i * 2, 40, i], i * 4);
    const jpg = await sharp(cmyk, { raw: { width: 8, height: 8, channels: 4 } }).toColourspace('cmyk').jpeg({ quality: 100 }).toBuffer();
    expect((await sharp(jpg).metadata()).space).toBe('cmyk');
    const raw = await sharp(jpg, { ignoreIcc: true }).pipelineColourspace('cmyk').toColourspace('cmyk').raw().toBuffer();
    const img = await decodeRgb(jpg);
    expect(Array.from(img.data)).toEqual(Array.from(cmykToRgb(raw, 64)));
  });
});

describe('errors', () => {
  it('names a missing file', async () => {
    const proc = ImageProcessor.fromConfig({ size: 8 });
    const missing = join(tmp.dir, 'missing.jpg');
    await expect(proc.preprocess([missing])).rejects.toThrow(InvalidArgumentError);
    await expect(proc.preprocess([missing])).rejects.toThrow(missing);
  });

  it('names a corrupt or truncated file', async () => {
    const proc = ImageProcessor.fromConfig({ size: 8 });
    const good = await noiseJpeg(64, 48);
    const truncated = join(tmp.dir, 'truncated.jpg');
    writeFileSync(truncated, good.subarray(0, good.length >> 1));
    const garbage = join(tmp.dir, 'garbage.png');
    writeFileSync(garbage, 'not an image at all');
    await expect(proc.preprocess(truncated)).rejects.toThrow(FormatError);
    await expect(proc.preprocess(truncated)).rejects.toThrow(/Cannot decode image .*truncated\.jpg/);
    await expect(proc.preprocess([good, garbage])).rejects.toThrow(/garbage\.png/);
    await expect(proc.preprocess([good, Buffer.from('xx')])).rejects.toThrow(/image 1 \(Buffer of 2 bytes\)/);
  });

  it('enforces limitInputPixels with a message naming the file', async () => {
    const file = join(tmp.dir, 'big.jpg');
    writeFileSync(file, await noiseJpeg(100, 50));
    const proc = ImageProcessor.fromConfig({ size: 8 }, { limitInputPixels: 4999 });
    await expect(proc.preprocess(file)).rejects.toThrow(
      `Expected an image of at most 4999 pixels (limitInputPixels) for ${file} but received 100x50 = 5000 pixels`,
    );
    await expect(proc.preprocess(file, { limitInputPixels: 5000 })).resolves.toBeDefined();
    await expect(proc.preprocess(file, { limitInputPixels: false })).resolves.toBeDefined();
  });

  it('rejects inputs that are not paths or bytes', async () => {
    const proc = ImageProcessor.fromConfig({ size: 8 });
    await expect(proc.preprocess([42 as never])).rejects.toThrow(/Expected a file path, Buffer, Uint8Array or raw pixels \{data, width, height, channels\} for inputs\[0\] but received number 42/);
  });
});

describe('preprocess', () => {
  it('returns [B, 3, H, W] float32 with the normalization formula applied', async () => {
    const png = await sharp({ create: { width: 5, height: 3, channels: 3, background: { r: 255, g: 0, b: 51 } } }).png().toBuffer();
    const proc = ImageProcessor.fromConfig({ size: { height: 4, width: 6 }, image_mean: [0.5, 0.25, 0], image_std: [0.5, 0.5, 2] });
    const t = await proc.preprocess([png, png]);
    expect(t.dtype).toBe('float32');
    expect(t.shape).toEqual([2, 3, 4, 6]);
    const f = Math.fround;
    const norm = (x: number, m: number, s: number) => f(f(f(x / 255) - f(m)) / f(s));
    expect(t.data[0]).toBe(norm(255, 0.5, 0.5));
    expect(t.data[24]).toBe(norm(0, 0.25, 0.5));
    expect(t.data[48]).toBe(norm(51, 0, 2));
  });

  it('keeps the aspect ratio with size.shortest_edge and refuses to stack different shapes', async () => {
    const proc = ImageProcessor.fromConfig({ size: { shortest_edge: 10 } });
    const wide = await sharp({ create: { width: 40, height: 20, channels: 3, background: '#808080' } }).png().toBuffer();
    const tall = await sharp({ create: { width: 20, height: 35, channels: 3, background: '#808080' } }).png().toBuffer();
    expect((await proc.preprocess(wide)).shape).toEqual([1, 3, 10, 20]);
    expect((await proc.preprocess(tall)).shape).toEqual([1, 3, 17, 10]);
    await expect(proc.preprocess([wide, tall])).rejects.toThrow(/one size/);
  });

  it('gives the same result at every concurrency', async () => {
    const imgs = await Promise.all([1, 2, 3, 4, 5].map((s) => noiseJpeg(80 + s * 7, 60 + s * 3, s)));
    const proc = ImageProcessor.fromConfig({ size: 24, resample: 3 });
    const a = await proc.preprocess(imgs, { concurrency: 1 });
    const b = await proc.preprocess(imgs, { concurrency: 4 });
    expect(Array.from(b.data)).toEqual(Array.from(a.data));
    expect(Array.from(a.data.subarray(3 * 24 * 24 * 2, 3 * 24 * 24 * 3))).toEqual(Array.from((await proc.preprocess(imgs[2]!)).data));
  });

  it("takes HF's per-call resample (a PIL filter); 'fast'/'exact' there (an unreleased spelling of resizer) are refused", async () => {
    const jpeg = await noiseJpeg(97, 61, 3);
    const bilinear = ImageProcessor.fromConfig({ size: 24, resample: 2 });
    const bicubic = ImageProcessor.fromConfig({ size: 24, resample: 3 });
    const viaCall = await bilinear.preprocess(jpeg, { resample: 3 });
    expect(viaCall.data).toEqual((await bicubic.preprocess(jpeg)).data);
    expect(viaCall.data).not.toEqual((await bilinear.preprocess(jpeg)).data);
    const fast = await bilinear.preprocess(jpeg, { resizer: 'fast' });
    await expect(bilinear.preprocess(jpeg, { resample: 'fast' as never })).rejects.toThrow(/old spelling of resizer.*pass resizer: 'fast'/);
    expect(fast.data).not.toEqual((await bilinear.preprocess(jpeg)).data);
    expect(String(ImageProcessor.fromConfig({ size: 24 }, { resizer: 'fast', resample: 3 }))).toMatch(/BICUBIC, fast/);
  });

  it('returns an empty batch for no inputs', async () => {
    expect((await ImageProcessor.fromConfig({ size: 8 }).preprocess([])).shape).toEqual([0, 3, 8, 8]);
  });

  it('does not block the event loop while decoding and resizing', async () => {
    const imgs = await Promise.all([1, 2, 3, 4].map((s) => noiseJpeg(640, 480, s)));
    const proc = ImageProcessor.fromConfig({ size: 224 });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    await proc.preprocess(imgs, { concurrency: 2 });
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(0);
  });
});

describe('header sniffing (skips sharp.metadata for JPEG and PNG)', () => {
  it('reads JPEG and PNG sizes and the PIL-specific kinds', async () => {
    const { sniffHeader } = await import('../../lib/processing/decode.js');
    const jpg = await sharp({ create: { width: 33, height: 17, channels: 3, background: '#123456' } }).jpeg().toBuffer();
    expect(sniffHeader(jpg)).toEqual({ width: 33, height: 17, kind: 'rgb' });
    const cmyk = await sharp({ create: { width: 9, height: 4, channels: 3, background: '#123456' } }).toColourspace('cmyk').jpeg().toBuffer();
    expect(sniffHeader(cmyk)).toEqual({ width: 9, height: 4, kind: 'cmyk' });
    const png = await sharp({ create: { width: 5, height: 6, channels: 4, background: '#12345678' } }).png().toBuffer();
    expect(sniffHeader(png)).toEqual({ width: 5, height: 6, kind: 'rgb' });
    expect(sniffHeader(png16Gray(3, 2, [1, 2, 3, 4, 5, 6]))).toEqual({ width: 3, height: 2, kind: 'gray16' });
    expect(sniffHeader(Buffer.from('GIF89a....'))).toBeNull();
    expect(sniffHeader(jpg.subarray(0, 3))).toBeNull();
  });
});
