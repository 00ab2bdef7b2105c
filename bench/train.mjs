// Training throughput (samples/s) with one native call per step (forward, backward, clip, AdamW), batch 8,
// 24-token captions, for the tiny / small / base sizes of bench/models.mjs (median step after two warm-up steps).
// TRAIN_SIZES=tiny,small to choose.
import { VisionEncoderDecoder } from '../dist/lib/models/vision-encoder-decoder.js';
import { AdamW } from '../dist/lib/optim/adamw.js';
import { Tensor } from '../dist/lib/tensor.js';
import { benchConfig, randomPixels } from './models.mjs';

const hf = { tiny: 62.5, small: 6.97, base: 2.12 };
const goal = { tiny: 95, small: 8.4, base: 2.35 };
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
