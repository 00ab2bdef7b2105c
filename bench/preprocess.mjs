#!/usr/bin/env node
// Preprocessing throughput: 640x480 JPEG -> 224x224 normalized pixel_values (ViT config: BILINEAR, mean =
// std = 0.5), exact (Pillow-exact C++ resize) and fast (sharp kernels) paths, at concurrency 1 and 2; and
// tokens/s for encoding 100k captions. Needs `npm run build:ts` (imports the compiled dist/).
//
//   node bench/preprocess.mjs [--seconds 3] [--images 32] [--captions 100000] [--json]
//
// Targets (per core): PIL 210 images/s; ours exact >= 280, fast >= 840.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import sharp from 'sharp';
import { ImageProcessor, Tokenizer, buildLabels } from '../dist/lib/processing/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const SECONDS = opt('seconds', 3);
const N_IMAGES = opt('images', 32);
const N_CAPTIONS = opt('captions', 100_000);
const asJson = args.includes('--json');

/** Deterministic photo-like 640x480 JPEG: gradients, shapes, texture and mild noise, sharp's default quality 80, 4:2:0. */
async function makeJpeg(seed) {
  const w = 640;
  const h = 480;
  const px = Buffer.alloc(w * h * 3);
  let s = seed * 2654435761 >>> 0;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const shapes = Array.from({ length: 6 }, () => ({ x: rnd() * w, y: rnd() * h, r: 30 + rnd() * 120, c: [rnd() * 255, rnd() * 255, rnd() * 255] }));
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let r = (x / w) * 200 + 30 * Math.sin(y / 17 + seed);
      let g = (y / h) * 180 + 40 * Math.sin(x / 23);
      let b = 120 + 60 * Math.sin((x + y) / 41 + seed);
      for (const sh of shapes) {
        if ((x - sh.x) ** 2 + (y - sh.y) ** 2 < sh.r ** 2) {
          const t = 0.5 + 0.5 * Math.sin(x / 3 + y / 5);
          r = sh.c[0] * (0.8 + 0.2 * t);
          g = sh.c[1] * (0.8 + 0.2 * t);
          b = sh.c[2] * (0.8 + 0.2 * t);
        }
      }
      const n = (rnd() - 0.5) * 16;
      const i = (y * w + x) * 3;
      px[i] = Math.max(0, Math.min(255, r + n));
      px[i + 1] = Math.max(0, Math.min(255, g + n));
      px[i + 2] = Math.max(0, Math.min(255, b + n));
    }
  }
  return sharp(px, { raw: { width: w, height: h, channels: 3 } }).jpeg().toBuffer();
}

/**
 * Wall-clock images/s, and CPU time per image (all threads of the process): on a shared machine the second is
 * the steadier measure of cost; at concurrency 1, 1000 / cpuMsPerImage is images/s per core.
 */
async function timeImages(proc, images, opts) {
  await proc.preprocess(images.slice(0, 4), opts); // warm up
  let done = 0;
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < SECONDS) {
    await proc.preprocess(images, opts);
    done += images.length;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  }
  const cpu = process.cpuUsage(cpu0);
  return { ips: done / elapsed, cpuMs: (cpu.user + cpu.system) / 1000 / done };
}

function captions(n) {
  const subj = ['A man', 'A woman', 'Two dogs', 'A group of people', 'A small child', 'A large bird', 'A red bus', 'Three zebras', 'An elderly man', 'A cat'];
  const verb = ['is riding', 'is holding', 'walks past', 'is standing next to', 'is eating', 'sits on', 'looks at', 'plays with'];
  const obj = ['a surfboard', 'a tennis racket', 'a wooden bench', 'a slice of pizza', 'a laptop computer', 'a red kite', 'the kitchen counter', 'a traffic light'];
  const where = ['', ' in the snow', ' on a city street', ' near the water', " in someone's kitchen", ' at the park', ' during the day'];
  const out = new Array(n);
  let s = 7;
  const pick = (a) => a[(s = (Math.imul(s, 1103515245) + 12345) >>> 0) % a.length];
  for (let i = 0; i < n; i++) out[i] = `${pick(subj)} ${pick(verb)} ${pick(obj)}${pick(where)}${i % 3 === 0 ? ' .' : '.'}`;
  return out;
}

const results = { machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.versions.node, sharpConcurrency: sharp.concurrency(), uvThreadpool: process.env.UV_THREADPOOL_SIZE ?? '4 (default)' }, images: {}, tokenizer: {} };

const images = await Promise.all(Array.from({ length: N_IMAGES }, (_, i) => makeJpeg(i + 1)));
results.images.jpegBytesMean = Math.round(images.reduce((a, b) => a + b.length, 0) / images.length);
const proc = ImageProcessor.fromConfig({ size: 224, resample: 2, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5] });
for (const resample of ['exact', 'fast']) {
  for (const concurrency of [1, 2]) {
    const { ips, cpuMs } = await timeImages(proc, images, { resizer: resample, concurrency });
    results.images[`${resample}_c${concurrency}`] = { images_per_s: Math.round(ips), cpu_ms_per_image: +cpuMs.toFixed(3), images_per_cpu_s: Math.round(1000 / cpuMs) };
    if (!asJson) {
      console.log(`preprocess 640x480 JPEG -> 224x224, ${resample.padEnd(5)} concurrency ${concurrency}: ${ips.toFixed(0)} images/s (CPU ${cpuMs.toFixed(2)} ms/image = ${(1000 / cpuMs).toFixed(0)} images per CPU-second)`);
    }
  }
}
const swin = ImageProcessor.fromConfig({ size: 224, resample: 3, image_mean: [0.485, 0.456, 0.406], image_std: [0.229, 0.224, 0.225] });
const sw = await timeImages(swin, images, { resizer: 'exact', concurrency: 1 });
results.images.exact_bicubic_c1 = { images_per_s: Math.round(sw.ips), cpu_ms_per_image: +sw.cpuMs.toFixed(3), images_per_cpu_s: Math.round(1000 / sw.cpuMs) };
if (!asJson) console.log(`preprocess 640x480 JPEG -> 224x224, exact BICUBIC concurrency 1: ${sw.ips.toFixed(0)} images/s (CPU ${sw.cpuMs.toFixed(2)} ms/image)`);

// Decode alone (the floor the exact path can reach on one core).
{
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  let n = 0;
  while (Number(process.hrtime.bigint() - t0) / 1e9 < SECONDS) {
    for (const img of images) await proc.decode(img);
    n += images.length;
  }
  const ips = n / (Number(process.hrtime.bigint() - t0) / 1e9);
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000 / n;
  results.images.decode_only_c1 = { images_per_s: Math.round(ips), cpu_ms_per_image: +cpuMs.toFixed(3), images_per_cpu_s: Math.round(1000 / cpuMs) };
  if (!asJson) console.log(`decode only (sharp, PIL semantics), concurrency 1: ${ips.toFixed(0)} images/s (CPU ${cpuMs.toFixed(2)} ms/image)`);
}

const modelDir = process.env.TORCH_CAPTION_TOKENIZER_DIR ?? join(here, '..', '..', 'shared', 'fixtures', 'models', 'vit-gpt2-tiny');
let tok;
try {
  tok = await Tokenizer.fromPretrained(modelDir);
} catch (err) {
  console.log(`tokenizer bench skipped: ${err.message.split('\n')[0]} (set TORCH_CAPTION_TOKENIZER_DIR to a GPT-2 tokenizer folder)`);
}
if (tok) {
  const caps = captions(N_CAPTIONS);
  let t0 = performance.now();
  let tokens = 0;
  for (const c of caps) tokens += tok.encode(c).length;
  let dt = (performance.now() - t0) / 1000;
  results.tokenizer = { captions: N_CAPTIONS, tokens, encode_tokens_per_s: Math.round(tokens / dt), encode_captions_per_s: Math.round(N_CAPTIONS / dt) };
  if (!asJson) console.log(`encode ${N_CAPTIONS} captions (${tokens} tokens): ${(tokens / dt / 1e6).toFixed(2)} M tokens/s, ${(N_CAPTIONS / dt / 1e3).toFixed(0)} k captions/s`);
  // Cold cache: distinct words every time (upper bound on the BPE cost).
  const cold = await Tokenizer.fromPretrained(modelDir);
  const words = caps.slice(0, 20000).map((c, i) => `${c} w${i}x${(i * 7919) % 100003}q`);
  t0 = performance.now();
  tokens = 0;
  for (const c of words) tokens += cold.encode(c).length;
  dt = (performance.now() - t0) / 1000;
  results.tokenizer.encode_unique_words_tokens_per_s = Math.round(tokens / dt);
  if (!asJson) console.log(`encode 20000 captions with a unique word each (cold BPE cache): ${(tokens / dt / 1e6).toFixed(2)} M tokens/s`);
  t0 = performance.now();
  for (let i = 0; i < caps.length; i += 64) buildLabels(caps.slice(i, i + 64), tok, { max_length: 32 });
  dt = (performance.now() - t0) / 1000;
  results.tokenizer.buildLabels_captions_per_s = Math.round(N_CAPTIONS / dt);
  if (!asJson) console.log(`buildLabels (batches of 64, max_length 32): ${(N_CAPTIONS / dt / 1e3).toFixed(0)} k captions/s`);
}

if (asJson) console.log(JSON.stringify(results, null, 2));
try {
  mkdirSync(join(here, 'out'), { recursive: true });
  writeFileSync(join(here, 'out', 'preprocess.json'), JSON.stringify(results, null, 2) + '\n');
} catch {
  // read-only checkout: results were printed
}
