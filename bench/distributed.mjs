// Data-parallel training throughput on the small model (ViT-Tiny/16 + 6-layer GPT-2, bench/models.mjs), batch 8
// per rank, 24-token captions: 1 process (all cores), 1 process with 1 thread, and 2 ranks with 1 thread each
// (Gloo on loopback), with the time each rank spends in the step's collectives and the bytes all-reduced.
// On a 2-core machine the 2 ranks share the cores the single process uses alone, so the comparison says what the
// communication costs, not how a second machine would scale. DIST_STEPS (default 6) timed steps after 2 warm-ups.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

const self = fileURLToPath(import.meta.url);
const steps = Number(process.env.DIST_STEPS ?? 6);
const batch = 8;

async function worker() {
  const { VisionEncoderDecoder } = await import('../dist/lib/models/vision-encoder-decoder.js');
  const { AdamW } = await import('../dist/lib/optim/adamw.js');
  const { Tensor } = await import('../dist/lib/tensor.js');
  const { distributed } = await import('../dist/lib/train/distributed.js');
  const { benchConfig, randomPixels } = await import('./models.mjs');
  const cfg = benchConfig(process.env.DIST_SIZE ?? 'small');
  const pg = distributed.isLaunched() ? await distributed.init({ timeout_ms: 120_000 }) : null;
  const model = await VisionEncoderDecoder.fromConfig(cfg, { seed: 0 });
  model.train();
  if (pg) await model.broadcastState(pg);
  const opt = new AdamW(model, { lr: 1e-4, weight_decay: 0.0 });
  const px = randomPixels(Tensor, batch, cfg.encoder.image_size);
  const labels = Tensor.from(BigInt64Array.from({ length: batch * 24 }, (_, i) => BigInt((i * 7919 + (pg?.rank ?? 0)) % 50000)), [batch, 24]);
  const step = () => model.trainStep([{ pixel_values: px, labels }], { optimizer: opt, max_grad_norm: 1.0, learning_rate: 1e-4, process_group: pg });
  await step();
  await step();
  const rows = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    const r = await step();
    rows.push({ ms: performance.now() - t0, comm: r.comm_ms, bytes: r.comm_bytes });
  }
  rows.sort((a, b) => a.ms - b.ms);
  const mid = rows[rows.length >> 1];
  process.stdout.write(JSON.stringify({ rank: pg?.rank ?? 0, ms: mid.ms, comm: mid.comm, bytes: mid.bytes, params: model.numParameters({ trainableOnly: true }) }) + '\n');
  await pg?.destroy();
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function run(env) {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [self, '--worker'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop())) : reject(new Error(`bench worker exited ${code}`))));
  });
}

async function main() {
  const cores = availableParallelism();
  const single = await run({ OMP_NUM_THREADS: String(cores) });
  const singleOne = await run({ OMP_NUM_THREADS: '1' });
  const port = await freePort();
  const base = { WORLD_SIZE: '2', MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), OMP_NUM_THREADS: String(Math.max(1, Math.floor(cores / 2))) };
  const ranks = await Promise.all([0, 1].map((r) => run({ ...base, RANK: String(r), LOCAL_RANK: String(r) })));
  const slowest = Math.max(...ranks.map((r) => r.ms));
  const sps = (rows, ms) => (rows / (ms / 1000)).toFixed(2);
  const mb = (b) => (b / 1e6).toFixed(1);
  console.log(`distributed small (${(single.params / 1e6).toFixed(1)}M trainable parameters), batch ${batch} per rank, median of ${steps} steps:`);
  console.log(`  1 process, ${cores} threads     : ${sps(batch, single.ms)} samples/s (${single.ms.toFixed(0)} ms/step)`);
  console.log(`  1 process, 1 thread      : ${sps(batch, singleOne.ms)} samples/s (${singleOne.ms.toFixed(0)} ms/step)`);
  console.log(`  2 ranks x ${base.OMP_NUM_THREADS} thread(s) (gloo): ${sps(2 * batch, slowest)} samples/s (${slowest.toFixed(0)} ms/step, global batch ${2 * batch})`);
  for (const r of ranks) {
    const ringBytes = (r.bytes * 2 * (2 - 1)) / 2;
    console.log(`    rank ${r.rank}: collectives ${r.comm.toFixed(1)} ms/step (${((100 * r.comm) / r.ms).toFixed(1)}% of the step), ` +
      `${mb(r.bytes)} MB of gradients all-reduced, ~${mb(ringBytes)} MB sent per step`);
  }
}

if (process.argv.includes('--worker')) await worker();
else await main();
