// Training throughput (samples/s) with one native call per step (forward, backward, clip, AdamW), batch 8,
// 24-token captions, for the tiny / small / base sizes of bench/models.mjs (median step after two warm-up steps).
// TRAIN_SIZES=tiny,small to choose.
import { VisionEncoderDecoder } from '../dist/lib/models/vision-encoder-decoder.js';
import { AdamW } from '../dist/lib/optim/adamw.js';
import { Tensor } from '../dist/lib/tensor.js';
import { benchConfig, randomPixels } from './models.mjs';

// transformers 4.9 on the same libtorch with glibc tuned as the addon tunes its allocator (best of several runs;
// untuned it pays page faults every step: tiny 62.5, small 2.2), and the goals set against those figures.
const hf = { tiny: 117, small: 6.92, base: 2.12 };
const goal = { tiny: 170, small: 8.6, base: 2.35 };
const sizes = (process.env.TRAIN_SIZES ?? 'tiny,small').split(',');
for (const size of sizes) {
  const cfg = benchConfig(size);
  const model = await VisionEncoderDecoder.fromConfig(cfg, { seed: 0 });
  model.train();
  const opt = new AdamW(model, { lr: 1e-4, weight_decay: 0.0 });
  const batch = 8;
  const px = randomPixels(Tensor, batch, cfg.encoder.image_size);
  const labels = Tensor.from(BigInt64Array.from({ length: batch * 24 }, (_, i) => BigInt((i * 7919) % 50000)), [batch, 24]);
  const mb = [{ pixel_values: px, labels }];
  // TRAIN_AUTOCAST=bfloat16 measures the bf16 autocast step (on CPU it is fast only with bfloat16 instructions).
  const autocast = process.env.TRAIN_AUTOCAST ?? '';
  const step = () => model.trainStep(mb, { optimizer: opt, max_grad_norm: 1.0, learning_rate: 1e-4, autocast });
  // Two warm-up steps (the first allocates AdamW state, the second still fills the allocator cache),
  // then the median step time: this shared 2-core machine has bursts of neighbour load.
  await step();
  await step();
  const steps = size === 'tiny' ? 30 : 6;
  const times = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    await step();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const sps = batch / (times[times.length >> 1] / 1000);
  console.log(`train ${size.padEnd(5)}${autocast ? ` (${autocast} autocast)` : ""}: ${sps.toFixed(2)} samples/s   (HF: ${hf[size]}, goal >= ${goal[size]})`);
}

// Decoder-only fine-tuning on the small model (TrainingArguments freeze_encoder / cache_encoder_outputs):
// full fine-tuning, the frozen encoder run from pixels every step, and the frozen encoder's states read from
// an encoder cache file (positioned reads of 8 random images' rows per step, float32 and bfloat16 files).
// The four take their steps in turn (median of 8 each), so neighbour load on a shared machine hits them alike.
// TRAIN_FREEZE=0 skips it.
if (process.env.TRAIN_FREEZE !== '0' && sizes.includes('small')) {
  const { EncoderCache } = await import('../dist/lib/train/encoder-cache.js');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const cfg = benchConfig('small');
  const batch = 8;
  const images = 64;
  const labels = Tensor.from(BigInt64Array.from({ length: batch * 24 }, (_, i) => BigInt((i * 7919) % 50000)), [batch, 24]);
  const px = randomPixels(Tensor, batch, cfg.encoder.image_size);
  const fresh = async (freeze) => {
    const model = await VisionEncoderDecoder.fromConfig(cfg, { seed: 0 });
    model.train();
    if (freeze) await model.freezeVisionTower(true);
    return { model, opt: new AdamW(model, { lr: 1e-4, weight_decay: 0.0 }) };
  };
  const full = await fresh(false);
  const frozen = await fresh(true);
  const dir = mkdtempSync(join(tmpdir(), 'tc-bench-cache-'));
  try {
    const caches = {};
    for (const dtype of ['float32', 'bfloat16']) {
      const cache = await EncoderCache.open(join(dir, dtype), { dtype });
      for (let i = 0; i < images; i += batch) {
        const ids = Array.from({ length: batch }, (_, j) => String(i + j));
        await cache.put(ids, ids, await frozen.model.encodeImages(randomPixels(Tensor, batch, cfg.encoder.image_size)));
      }
      caches[dtype] = cache;
    }
    let k = 1;
    const randomIds = () => Array.from({ length: batch }, () => String((k = (k * 1103515245 + 12345) % 2147483648) % images));
    const cached = (dtype) => async () => {
      const states = await caches[dtype].get(randomIds());
      return frozen.model.trainStep([{ encoder_last_hidden_state: states, labels }], { optimizer: frozen.opt, max_grad_norm: 1.0 });
    };
    const configs = [
      ['full fine-tuning', () => full.model.trainStep([{ pixel_values: px, labels }], { optimizer: full.opt, max_grad_norm: 1.0 })],
      ['frozen encoder, uncached', () => frozen.model.trainStep([{ pixel_values: px, labels }], { optimizer: frozen.opt, max_grad_norm: 1.0 })],
      ['frozen encoder, cached (float32)', cached('float32')],
      ['frozen encoder, cached (bfloat16)', cached('bfloat16')],
    ];
    for (const [, step] of configs) {
      await step();
      await step();
    }
    const times = configs.map(() => []);
    for (let r = 0; r < 8; r++) {
      for (const [i, [, step]] of configs.entries()) {
        const t0 = performance.now();
        await step();
        times[i].push(performance.now() - t0);
      }
    }
    const sps = times.map((t) => {
      t.sort((a, b) => a - b);
      return batch / (t[t.length >> 1] / 1000);
    });
    console.log(`decoder-only fine-tuning, small model, batch ${batch} (median step, steps taken in turn):`);
    configs.forEach(([name], i) => console.log(`  ${name.padEnd(34)} ${sps[i].toFixed(2).padStart(7)} samples/s  (x${(sps[i] / sps[0]).toFixed(2)})`));
    for (const c of Object.values(caches)) await c.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
