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
//
// The floor printed beside it is what this machine cannot beat: each decoding step reads every decoder weight once
// (self- and cross-attention projections, MLP, the tied lm_head; beams share the read), at the measured memory copy
// bandwidth, and the image side (the encoder, plus each decoder layer's projection of the image states into
// cross-attention keys and values, once per image) runs at the measured matmul rate.
const { native } = await import('../dist/lib/native.js');
const rates = await native().measureMachine();
const fullCfg = benchConfig('full');
const floor = latencyFloorMs(fullCfg, rates, 15);
console.log(
  `machine: memory copy ${rates.copyGBps.toFixed(1)} GB/s (${rates.threads} threads), float32 matmul ${rates.matmulGFLOPs.toFixed(0)} GFLOP/s; ` +
    `full-size floor ${floor.total.toFixed(0)} ms = ${floor.decodeMs.toFixed(0)} ms decoding (${(floor.stepBytes / 1e6).toFixed(0)} MB of weights x 15 steps) + ` +
    `${floor.imageMs.toFixed(0)} ms image side (${(floor.imageFlops / 1e9).toFixed(1)} GFLOP)`,
);
const big = await VisionEncoderDecoder.fromConfig(fullCfg, { seed: 0 });
const hfFull = { greedy: 1488, beam4: 3739 };
for (const [label, beams] of [['greedy', 1], ['beam4', 4]]) {
  const px = randomPixels(Tensor, 1, 224);
  const opts = { num_beams: beams, max_length: 16, min_length: 16 };
  await big.generate(px, opts); // warm-up
  const times = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    await big.generate(px, opts);
    times.push(performance.now() - t0);
  }
  const ms = times.sort((a, b) => a - b)[2];
  console.log(
    `full-size ${label.padEnd(7)} batch 1, 15 new tokens: ${ms.toFixed(0)} ms/image, ${(ms / floor.total).toFixed(2)}x the floor ` +
      `(goal <= 1.5x = ${(1.5 * floor.total).toFixed(0)} ms; HF 4.9 on this machine: ${hfFull[label]})`,
  );
}

// Float32 bytes of decoder weights read per step and image-side FLOPs of a ViT + GPT-2 config.
function latencyFloorMs(cfg, { copyGBps, matmulGFLOPs }, steps) {
  const { hidden_size: E, intermediate_size: I, num_hidden_layers: L, image_size, patch_size, num_channels = 3 } = cfg.encoder;
  const { n_embd: D, n_layer: DL, vocab_size: V } = cfg.decoder;
  const inner = cfg.decoder.n_inner ?? 4 * D;
  const S = (image_size / patch_size) ** 2 + 1; // patches + [CLS]
  const perLayer = 3 * D * D + D * D + (D * D + D * D) + 2 * D * inner; // c_attn, c_proj, cross q_attn + c_proj, MLP
  const stepBytes = 4 * (DL * perLayer + V * D);
  const encoderFlops = 2 * (S - 1) * num_channels * patch_size ** 2 * E + L * (2 * S * (4 * E * E + 2 * E * I) + 4 * S * S * E);
  const crossKvFlops = DL * 2 * S * E * 2 * D;
  const imageFlops = encoderFlops + crossKvFlops;
  const decodeMs = ((stepBytes * steps) / (copyGBps * 1e9)) * 1e3;
  const imageMs = (imageFlops / (matmulGFLOPs * 1e9)) * 1e3;
  return { stepBytes, imageFlops, decodeMs, imageMs, total: decodeMs + imageMs };
}
