// Greedy and beam-4 caption generation on the "small" model (ViT 224/16/192/12L, GPT-2 384/6L, vocab
// 50257), exactly 20 new tokens (min_length forces them), CPU. Prints ms per image at batch 1 and 8.
import { VisionEncoderDecoder } from '../dist/lib/models/vision-encoder-decoder.js';
import { Tensor } from '../dist/lib/tensor.js';
import { benchConfig, randomPixels } from './models.mjs';

const model = await VisionEncoderDecoder.fromConfig(benchConfig('small'), { seed: 0 });
const goals = { 'greedy 1': 150, 'greedy 8': 60, 'beam4 1': 300, 'beam4 8': 180 };
const hf = { 'greedy 1': 340, 'greedy 8': 162, 'beam4 1': 780, 'beam4 8': 484 };
for (const [label, beams] of [['greedy', 1], ['beam4', 4]]) {
  for (const batch of [1, 8]) {
    const px = randomPixels(Tensor, batch, 224);
    const opts = { num_beams: beams, max_length: 21, min_length: 21 };
    await model.generate(px, opts); // warm-up
    const reps = batch === 1 ? 5 : 2;
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) await model.generate(px, opts);
    const ms = (performance.now() - t0) / reps / batch;
    const key = `${label} ${batch}`;
    console.log(`${label.padEnd(7)} batch ${batch}: ${ms.toFixed(1)} ms/image   (HF 4.9: ${hf[key]}, goal <= ${goals[key]})`);
  }
}
