#!/usr/bin/env node
/**
 * Data loading throughput.
 *
 *   npm run build:ts && node bench/data.mjs [--images 200] [--epochs 2] [--json]
 *
 * 1. JPEG 640x480 (COCO size; written into a temp dir) -> decode + resize + normalize to 224x224
 *    through dataset.batches() at concurrency 1 and 2, with ImageProcessor's 'exact' (PIL-exact)
 *    and 'fast' (sharp kernels) paths, plus the processor alone for the loader's overhead.
 * 2. Synthetic shapes: items/s generated with pixels (64x64), and through the loader at 224x224.
 *
 * Imports the compiled library from ../dist/lib.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { Dataset, datasets } from '../dist/lib/data/index.js';

const { values: args } = parseArgs({
  options: {
    images: { type: 'string', default: '200' },
    epochs: { type: 'string', default: '2' },
    synthetic: { type: 'string', default: '50000' },
    json: { type: 'boolean', default: false },
  },
});
const N = Number(args.images);
const EPOCHS = Number(args.epochs);
const SYN = Number(args.synthetic);

let ImageProcessor;
try {
  ({ ImageProcessor } = await import('../dist/lib/processing/index.js'));
} catch (err) {
  console.error(`bench/data: lib/processing is not built (${err.message.split('\n')[0]}); run npm run build:ts`);
  process.exit(1);
}

const tokenizer = {
  eos_token_id: 50256,
  pad_token_id: 50256,
  bos_token_id: 50256,
  encode: (s) => s.split(' ').map((w) => (w.length * 7919) % 50000),
};

async function makeJpegs(dir, n) {
  // Photo-like content (smooth noise plus edges) so JPEG size and decode cost are realistic (~100 KB).
  const base = await sharp({ create: { width: 640, height: 480, channels: 3, noise: { type: 'gaussian', mean: 128, sigma: 60 } } })
    .blur(1.2).raw().toBuffer({ resolveWithObject: true });
  const files = [];
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const d = Buffer.from(base.data);
    const shift = (i * 37) % 255;
    for (let k = 0; k < d.length; k += 3) d[k] = (d[k] + shift) & 255;
    const jpg = await sharp(d, { raw: base.info }).jpeg({ quality: 90 }).toBuffer();
    const p = path.join(dir, `${String(i).padStart(6, '0')}.jpg`);
    writeFileSync(p, jpg);
    bytes += jpg.length;
    files.push(p);
  }
  return { files, meanKB: bytes / n / 1024 };
}

async function timeLoader(ds, loaderOpts, epochs) {
  // one warm-up epoch, then timed epochs
  const loader = ds.batches({ log: () => {}, ...loaderOpts });
  for await (const _ of loader) { /* warm-up */ }
  let rows = 0;
  const t0 = performance.now();
  for (let e = 0; e < epochs; e++) for await (const b of loader) rows += b.ids.length;
  return rows / ((performance.now() - t0) / 1000);
}

async function timeProcessorAlone(proc, files, epochs) {
  for (const f of files.slice(0, 8)) await proc.preprocess(f);
  const t0 = performance.now();
  for (let e = 0; e < epochs; e++) for (const f of files) await proc.preprocess(f);
  return (files.length * epochs) / ((performance.now() - t0) / 1000);
}

const results = { machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version }, jpeg: {}, synthetic: {} };
const dir = mkdtempSync(path.join(tmpdir(), 'tc-bench-data-'));
try {
  const { files, meanKB } = await makeJpegs(dir, N);
  results.jpeg.files = { count: N, width: 640, height: 480, meanKB: Number(meanKB.toFixed(1)) };
  const ds = Dataset.fromItems(files.map((f, i) => ({ id: String(i), image: f, captions: ['a photo of something'] })));
  for (const resample of ['exact', 'fast']) {
    let proc;
    try {
      // one image per preprocess call from the loader: the loader's `concurrency` is the parallelism
      proc = ImageProcessor.fromConfig({ size: { height: 224, width: 224 } }, { resizer: resample, concurrency: 1 });
      await proc.preprocess(files[0]);
    } catch (err) {
      results.jpeg[resample] = { error: err.message.split('\n')[0] };
      continue;
    }
    const r = { processorAlone: await timeProcessorAlone(proc, files, EPOCHS) };
    for (const concurrency of [1, 2]) {
      r[`loader_c${concurrency}`] = await timeLoader(ds, {
        batch_size: 16, max_length: 24, imageProcessor: proc, tokenizer, captionSampling: 'first', concurrency, prefetch: 2,
      }, EPOCHS);
    }
    results.jpeg[resample] = r;
  }

  // synthetic: generation with pixels
  const syn = datasets.synthetic({ size: SYN, seed: 0, imageSize: 64 });
  let t0 = performance.now();
  let sink = 0;
  for await (const item of syn) sink += item.image.data[0];
  results.synthetic.items_per_s_64px = SYN / ((performance.now() - t0) / 1000);
  t0 = performance.now();
  for (let i = 0; i < SYN; i++) sink += syn.item(i).captions.length; // scenes and captions only
  results.synthetic.scenes_per_s_no_pixels = SYN / ((performance.now() - t0) / 1000);
  const syn224 = datasets.synthetic({ size: 5000, seed: 0, imageSize: 224 });
  t0 = performance.now();
  for (let i = 0; i < 5000; i++) sink += syn224.item(i).image.data[0];
  results.synthetic.items_per_s_224px = 5000 / ((performance.now() - t0) / 1000);
  // through the loader: raw pixels -> processor (TIFF-encoded by the loader if the processor refuses raw input)
  const proc32 = ImageProcessor.fromConfig({ size: { height: 32, width: 32 } }, { resizer: 'fast', concurrency: 1 });
  results.synthetic.processor_takes_raw = await proc32.preprocess(syn.item(0).image).then(() => true, () => false);
  results.synthetic.loader_64to32px_c2 = await timeLoader(datasets.synthetic({ size: 4000, seed: 0, imageSize: 64 }), {
    batch_size: 32, max_length: 24, imageProcessor: proc32, tokenizer, captionSampling: 'first', concurrency: 2, prefetch: 2,
  }, 1);
  if (sink < 0) console.log(sink);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const fmt = (v) => (typeof v === 'number' ? v.toFixed(0) : JSON.stringify(v));
if (args.json) {
  console.log(JSON.stringify(results, null, 2));
} else {
  console.log(`machine: ${results.machine.cpus} cpus, ${results.machine.model}, node ${results.machine.node}`);
  console.log(`JPEG 640x480 (${N} files, mean ${results.jpeg.files.meanKB} KB) -> 224x224 float32, images/s:`);
  for (const resample of ['exact', 'fast']) {
    const r = results.jpeg[resample];
    if (r.error) console.log(`  ${resample}: ${r.error}`);
    else console.log(`  ${resample.padEnd(5)}  processor alone ${fmt(r.processorAlone)}   loader c=1 ${fmt(r.loader_c1)}   loader c=2 ${fmt(r.loader_c2)}`);
  }
  console.log('synthetic shapes:');
  for (const [k, v] of Object.entries(results.synthetic)) console.log(`  ${k.padEnd(24)} ${fmt(v)}`);
}
