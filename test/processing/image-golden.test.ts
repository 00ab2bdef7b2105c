// Golden parity of ImageProcessor with the Hugging Face / PIL reference (fixtures/images): every image, both
// configs; the exact path bit for bit (CMYK too), the decode step against decoded_rgb_sum, the fast path
// within the README's sharp tolerances.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { describeWithFixtures } from '../helpers/fixtures.js';
import { ImageProcessor } from '../../lib/processing/index.js';
import { maxAbs, readSafetensors } from './helpers.js';

interface ImageEntry {
  file: string;
  pil_mode: string;
  width: number;
  height: number;
  exif_orientation: number | null;
  decoded_rgb_sum: number;
  expected_file: string;
  tensors: Record<string, { shape: number[]; sum: number; pixel_0_0: number[] }>;
}
interface ConfigEntry {
  size: number;
  resample: number;
  mean: number[];
  std: number[];
  rescale_factor: number;
}
interface Index {
  configs: Record<string, ConfigEntry>;
  images: ImageEntry[];
}

const measured: string[] = [];
afterAll(() => {
  if (measured.length) console.log(`[processing] measured |Δ| vs fixtures:\n  ${measured.join('\n  ')}`);
});

describeWithFixtures('ImageProcessor vs the PIL / transformers reference (fixtures/images)', (root) => {
  const dir = join(root, 'images');
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as Index;
  const files = index.images.map((im) => join(dir, im.file));
  const expectedOf = (im: ImageEntry) => readSafetensors(join(dir, im.expected_file));
  const plane = (shape: readonly number[]) => shape.slice(1).reduce((a, b) => a * b, 1);

  it('decodes every image to the same RGB bytes as PIL convert("RGB") (decoded_rgb_sum)', async () => {
    const proc = ImageProcessor.fromConfig({});
    for (const im of index.images) {
      const img = await proc.decode(join(dir, im.file));
      expect([img.width, img.height], im.file).toEqual([im.width, im.height]);
      let sum = 0;
      for (const b of img.data) sum += b;
      expect(sum, im.file).toBe(im.decoded_rgb_sum);
    }
  });

  for (const [name, cfg] of Object.entries(index.configs)) {
    const config = {
      size: cfg.size,
      resample: cfg.resample,
      rescale_factor: cfg.rescale_factor,
      image_mean: cfg.mean,
      image_std: cfg.std,
    };

    it(`${name}: exact path matches every image bit for bit (max |Δ| <= 1e-6, CMYK included)`, async () => {
      const proc = ImageProcessor.fromConfig(config);
      const batch = await proc.preprocess(files, { concurrency: 2 });
      expect(batch.shape).toEqual([files.length, 3, cfg.size, cfg.size]);
      const n = plane(batch.shape);
      const worst: string[] = [];
      index.images.forEach((im, i) => {
        const got = batch.data.subarray(i * n, (i + 1) * n);
        const want = expectedOf(im)[name]!.data as Float32Array;
        const { max } = maxAbs(got, want);
        worst.push(`${im.file}=${max}`);
        expect(max, `${name} ${im.file}`).toBeLessThanOrEqual(1e-6);
        let sum = 0;
        for (const v of got) sum += v;
        expect(Math.abs(sum - im.tensors[name]!.sum), `${name} ${im.file} sum`).toBeLessThanOrEqual(1e-5 * Math.abs(im.tensors[name]!.sum));
        expect(Array.from(got.subarray(0, 1))).toEqual([im.tensors[name]!.pixel_0_0[0]]);
      });
      measured.push(`exact ${name}: ${worst.join(', ')}`);
    });

    it(`${name}: fast path (sharp kernels) within the README tolerances`, async () => {
      const proc = ImageProcessor.fromConfig(config, { resizer: 'fast' });
      const batch = await proc.preprocess(files);
      const n = plane(batch.shape);
      const strict = name === 'vit' ? { mean: 0.01, max: 0.25 } : { mean: 0.025, max: 0.5 };
      const loose = name === 'vit' ? { mean: 0.03, max: 0.7 } : { mean: 0.08, max: 1.6 };
      const report: string[] = [];
      index.images.forEach((im, i) => {
        const got = batch.data.subarray(i * n, (i + 1) * n);
        const want = expectedOf(im)[name]!.data as Float32Array;
        const { max, mean } = maxAbs(got, want);
        report.push(`${im.file}=${max.toFixed(3)}/${mean.toFixed(4)}`);
        const aspect = Math.max(im.width, im.height) / Math.min(im.width, im.height);
        const tol = aspect <= 4 ? strict : loose;
        expect(mean, `${name} ${im.file} mean`).toBeLessThanOrEqual(tol.mean);
        expect(max, `${name} ${im.file} max`).toBeLessThanOrEqual(tol.max);
      });
      measured.push(`fast ${name} (max/mean): ${report.join(', ')}`);
    });
  }

  it('single inputs, Buffers and paths give the same rows as the batch', async () => {
    const cfg = index.configs.vit!;
    const proc = ImageProcessor.fromConfig({ size: cfg.size, resample: cfg.resample, image_mean: cfg.mean, image_std: cfg.std });
    const im = index.images.find((x) => x.file === 'rgba.png')!;
    const fromPath = await proc.preprocess(join(dir, im.file));
    const fromBuffer = await proc.preprocess([readFileSync(join(dir, im.file))]);
    expect(fromPath.shape).toEqual([1, 3, cfg.size, cfg.size]);
    expect(Array.from(fromBuffer.data)).toEqual(Array.from(fromPath.data));
    expect(maxAbs(fromPath.data, expectedOf(im).vit!.data as Float32Array).max).toBe(0);
  });

  it('does not apply EXIF orientation unless autoOrient is set', async () => {
    const im = index.images.find((x) => x.exif_orientation === 6)!;
    const proc = ImageProcessor.fromConfig({ do_resize: false, do_normalize: false, do_rescale: false });
    const stored = await proc.preprocess(join(dir, im.file));
    expect(stored.shape).toEqual([1, 3, im.height, im.width]);
    const rotated = await proc.preprocess(join(dir, im.file), { autoOrient: true });
    expect(rotated.shape).toEqual([1, 3, im.width, im.height]);
  });

  it('loads the fixture model preprocessor_config.json (ViTImageProcessor) and round-trips it', async () => {
    const modelDir = join(root, 'models', 'vit-gpt2-tiny');
    const proc = await ImageProcessor.fromPretrained(modelDir);
    expect(proc.config).toEqual({
      do_resize: true,
      size: { height: 32, width: 32 },
      resample: 2,
      do_rescale: true,
      rescale_factor: 0.00392156862745098,
      do_normalize: true,
      image_mean: [0.5, 0.5, 0.5],
      image_std: [0.5, 0.5, 0.5],
      do_convert_rgb: null,
    });
    const original = JSON.parse(readFileSync(join(modelDir, 'preprocessor_config.json'), 'utf8')) as Record<string, unknown>;
    expect(proc.toJSON()).toEqual(original);
  });

  it('preprocesses the cases images of the model fixture like the reference pixel_values', async () => {
    // images_uint8 are already at the model size: the resize is a copy, so this checks rescale/normalize.
    const modelDir = join(root, 'models', 'vit-gpt2-tiny');
    const cases = readSafetensors(join(root, 'models', 'vit-gpt2-tiny.cases.safetensors'));
    const imgs = cases.images_uint8!;
    const [b, h, w] = imgs.shape as [number, number, number];
    const proc = await ImageProcessor.fromPretrained(modelDir);
    const sharp = (await import('sharp')).default;
    const pngs = await Promise.all(
      Array.from({ length: b }, (_, i) =>
        sharp(Buffer.from((imgs.data as Uint8Array).subarray(i * h * w * 3, (i + 1) * h * w * 3)), { raw: { width: w, height: h, channels: 3 } })
          .png()
          .toBuffer(),
      ),
    );
    const got = await proc.preprocess(pngs);
    expect(got.shape).toEqual(cases.pixel_values!.shape);
    expect(maxAbs(got.data, cases.pixel_values!.data as Float32Array).max).toBe(0);
  });
});
