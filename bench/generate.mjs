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

// The full-size model (ViT-base/16 + GPT-2 124M) at batch 1, max_length 16: what a captioning service pays per
// request. The Python side: time `model.generate(pixel_values, max_length=16, min_length=16, num_beams=n)` on
// nlpconnect/vit-gpt2-image-captioning (the same sizes) under torch.inference_mode(), median of a few calls.
const big = await VisionEncoderDecoder.fromConfig(benchConfig('full'), { seed: 0 });
for (const [label, beams] of [['greedy', 1], ['beam4', 4]]) {
  const px = randomPixels(Tensor, 1, 224);
  const opts = { num_beams: beams, max_length: 16, min_length: 16 };
  await big.generate(px, opts); // warm-up
  const reps = 3;
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) await big.generate(px, opts);
  console.log(`full-size ${label.padEnd(7)} batch 1, 15 new tokens: ${((performance.now() - t0) / reps).toFixed(0)} ms/image`);
}
