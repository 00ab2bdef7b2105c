// The caption server under load: throughput (images/s) and p50/p95 latency at concurrency 1, 4 and 16,
// with dynamic batching (maxBatchSize 16, maxWaitMs 10) and without (maxBatchSize 1), over loopback HTTP.
// "small" model with random weights (ViT 224/16/192/12L, GPT-2 384/6L, vocab 50257), greedy, exactly 20 new
// tokens per caption (min_length forces them), 160x120 PNG uploads (decoded and resized per request); then the
// full-size one (ViT-base/16 + GPT-2 124M) at max_length 16, fewer requests. SERVE_SIZES=small,full to choose.
import sharp from 'sharp';
import { VisionEncoderDecoder } from '../dist/lib/models/vision-encoder-decoder.js';
import { ImageProcessor } from '../dist/lib/processing/index.js';
import { Captioner } from '../dist/lib/serve/captioner.js';
import { CaptionServer } from '../dist/lib/serve/server.js';
import { benchConfig } from './models.mjs';

process.removeAllListeners('warning'); // min_length = max_length: every caption is cut off at 20 tokens, on purpose
const imageProcessor = ImageProcessor.fromConfig({ size: { height: 224, width: 224 } });
const tokenizer = { decode: (ids) => ids.join(' ') }; // random weights: the ids are the caption
const pngs = await Promise.all([0, 1, 2, 3].map((k) => {
  const data = Buffer.alloc(160 * 120 * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * (k + 3) * 2654435761) >>> 24;
  return sharp(data, { raw: { width: 160, height: 120, channels: 3 } }).png().toBuffer();
}));
const sizes = (process.env.SERVE_SIZES ?? 'small,full').split(',');
const lengths = { small: 21, full: 16 };
const queryOf = (size) => `?options=${encodeURIComponent(JSON.stringify({ max_length: lengths[size], min_length: lengths[size] }))}`;

async function load(url, query, concurrency, total) {
  const latencies = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < total) {
      const k = next++;
      const s = performance.now();
      const r = await fetch(`${url}/caption${query}`, { method: 'POST', headers: { 'Content-Type': 'image/png' }, body: pngs[k % pngs.length] });
      if (r.status !== 200) throw new Error(`status ${r.status}: ${await r.text()}`);
      await r.json();
      latencies.push(performance.now() - s);
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (p) => latencies[Math.min(latencies.length - 1, Math.ceil(p * latencies.length) - 1)];
  return { throughput: total / seconds, p50: q(0.5), p95: q(0.95) };
}

const rows = [];
for (const size of sizes) {
  const model = await VisionEncoderDecoder.fromConfig(benchConfig(size), { seed: 0 });
  const query = queryOf(size);
  for (const [mode, batching] of [['no batching', { maxBatchSize: 1, maxWaitMs: 0 }], ['batching', { maxBatchSize: 16, maxWaitMs: 10 }]]) {
    for (const concurrency of [1, 4, 16]) {
      const captioner = new Captioner(model, { imageProcessor, tokenizer, ...batching });
      const server = new CaptionServer(captioner, { timeoutMs: 600_000 });
      const { url } = await server.listen(0);
      await load(url, query, Math.min(concurrency, 4), Math.min(concurrency, 4)); // warm-up
      const before = captioner.stats();
      const total = size === 'full' ? Math.max(8, 2 * concurrency) : Math.max(12, 3 * concurrency);
      const r = await load(url, query, concurrency, total);
      const after = captioner.stats();
      await server.close();
      const meanBatch = (after.completed - before.completed) / (after.batches - before.batches);
      rows.push({ size, mode, concurrency, ...r, meanBatch });
      console.log(`${size.padEnd(5)} ${mode.padEnd(12)} concurrency ${String(concurrency).padStart(2)}: ${r.throughput.toFixed(2).padStart(6)} images/s   p50 ${r.p50.toFixed(0).padStart(5)} ms   p95 ${r.p95.toFixed(0).padStart(5)} ms   mean batch ${meanBatch.toFixed(1)}`);
    }
  }
}
console.log('\n| model | mode | concurrency | images/s | p50 ms | p95 ms | mean batch |\n|---|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.size} | ${r.mode} | ${r.concurrency} | ${r.throughput.toFixed(2)} | ${r.p50.toFixed(0)} | ${r.p95.toFixed(0)} | ${r.meanBatch.toFixed(1)} |`);
