// Load time of a full-size checkpoint (ViT-base/16 + GPT-2 124M, about 1 GB of float32), what a restarting
// service pays: fromPretrained from model.safetensors, the file in the page cache (the first, cold read is shown
// apart). Weights are read as views over the mapped file and copied once into the parameters; the HF-style random
// init is skipped for tensors the checkpoint provides. The same weights as pytorch_model.bin (written without
// PyTorch by test/helpers/make_torch_bin.py, laid out as torch.save does) are streamed one storage at a time.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { composeConfig } from '../dist/lib/models/config.js';
import { VisionEncoderDecoder } from '../dist/lib/models/vision-encoder-decoder.js';

const full = composeConfig(
  { model_type: 'vit', image_size: 224, patch_size: 16, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072 },
  { model_type: 'gpt2', vocab_size: 50257, n_positions: 1024, n_embd: 768, n_layer: 12, n_head: 12, bos_token_id: 50256, eos_token_id: 50256, pad_token_id: 50256 },
);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timeLoad(dir, runs) {
  const ms = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await VisionEncoderDecoder.fromPretrained(dir);
    ms.push(performance.now() - t);
  }
  return ms;
}

const dir = mkdtempSync(join(tmpdir(), 'tc-bench-load-'));
try {
  let t = performance.now();
  const model = await VisionEncoderDecoder.fromConfig(full, { seed: 0 });
  const initMs = performance.now() - t;
  t = performance.now();
  await model.save(dir);
  const saveMs = performance.now() - t;
  const params = model.numParameters();
  const [cold, ...warm] = await timeLoad(dir, 5);
  console.log(`full-size model: ${(params / 1e6).toFixed(1)}M parameters, ${(params * 4 / 2 ** 30).toFixed(2)} GiB float32`);
  console.log('| operation | ms |');
  console.log('|---|---|');
  console.log(`| fromConfig (random HF init) | ${initMs.toFixed(0)} |`);
  console.log(`| save (model.safetensors) | ${saveMs.toFixed(0)} |`);
  console.log(`| fromPretrained, safetensors, first read | ${cold.toFixed(0)} |`);
  console.log(`| fromPretrained, safetensors, median of ${warm.length} | ${median(warm).toFixed(0)} |`);
  const binDir = join(dir, 'bin');
  mkdirSync(binDir);
  copyFileSync(join(dir, 'config.json'), join(binDir, 'config.json'));
  const script = join(import.meta.dirname, '..', 'test', 'helpers', 'make_torch_bin.py');
  const w = spawnSync('python3', [script, join(dir, 'model.safetensors'), join(binDir, 'pytorch_model.bin')], { stdio: 'inherit' });
  if (w.status === 0) {
    rmSync(join(dir, 'model.safetensors')); // keep one copy on disk
    const [binCold, ...binWarm] = await timeLoad(binDir, 4);
    console.log(`| fromPretrained, pytorch_model.bin, first read | ${binCold.toFixed(0)} |`);
    console.log(`| fromPretrained, pytorch_model.bin, median of ${binWarm.length} | ${median(binWarm).toFixed(0)} |`);
  } else {
    console.log('| fromPretrained, pytorch_model.bin | (python3 could not write the file) |');
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
