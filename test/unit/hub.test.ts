// Hub downloads against a local HTTP server (HF_ENDPOINT), the cache, offline mode, interrupted
// downloads, and sharded safetensors checkpoints (model.safetensors.index.json), local and downloaded.
import { createServer, type Server } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FormatError, TorchCaptionError } from '../../lib/errors.js';
import { resolveModelDir, shardFiles } from '../../lib/models/hub.js';
import { readSafetensors, writeSafetensors } from '../../lib/models/safetensors.js';
import { tinyConfig } from '../../lib/models/config.js';
import { VisionEncoderDecoder } from '../../lib/models/vision-encoder-decoder.js';
import { Tensor } from '../../lib/tensor.js';

const root = mkdtempSync(join(tmpdir(), 'tc-hub-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Repos served: name -> folder. A file may be marked to be cut short (Content-Length larger than the body). */
const repos = new Map<string, string>();
const truncate = new Set<string>();
const requests: string[] = [];
let server: Server;
let endpoint = '';

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const m = /^\/([\w.-]+\/[\w.-]+)\/resolve\/main\/([\w.-]+)$/.exec(req.url ?? '');
    if (req.headers.authorization !== undefined && req.headers.authorization !== 'Bearer secret') {
      res.writeHead(401).end();
      return;
    }
    if (m && m[1] === 'org/private' && req.headers.authorization === undefined) {
      res.writeHead(401).end();
      return;
    }
    const dir = m ? repos.get(m[1]!) : undefined;
    const path = dir ? join(dir, m![2]!) : '';
    if (!dir || !existsSync(path)) {
      res.writeHead(404).end();
      return;
    }
    const body = readFileSync(path);
    if (truncate.has(m![2]!)) {
      res.writeHead(200, { 'content-length': String(body.length) });
      res.write(body.subarray(0, body.length >> 1));
      res.destroy(); // the connection drops mid-file
      return;
    }
    res.writeHead(200, { 'content-length': String(body.length) }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address() as { port: number };
  endpoint = `http://127.0.0.1:${addr.port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const savedEnv = { ...process.env };
afterEach(() => {
  for (const k of ['HF_ENDPOINT', 'TORCH_CAPTION_CACHE', 'HF_HUB_OFFLINE', 'HF_TOKEN']) {
    if (savedEnv[k] === undefined) delete process.env[k];
    else process.env[k] = savedEnv[k];
  }
  truncate.clear();
});

function useHub(): string {
  const cache = mkdtempSync(join(root, 'cache-'));
  process.env.HF_ENDPOINT = endpoint;
  process.env.TORCH_CAPTION_CACHE = cache;
  return cache;
}

const px = Tensor.from(Float32Array.from({ length: 2 * 3 * 32 * 32 }, (_, i) => Math.sin(i * 0.11)), [2, 3, 32, 32]);

async function savedModel(name: string, seed: number): Promise<{ model: VisionEncoderDecoder; dir: string }> {
  const model = await VisionEncoderDecoder.fromConfig(tinyConfig({ vocabSize: 100 }), { seed });
  const dir = join(root, name);
  await model.save(dir);
  return { model, dir };
}

/** Split dir/model.safetensors into two shards plus the index, as transformers writes them. */
async function shard(dir: string): Promise<void> {
  const { tensors } = await readSafetensors(join(dir, 'model.safetensors'));
  const names = Object.keys(tensors).sort();
  const half = names.length >> 1;
  const parts = [names.slice(0, half), names.slice(half)];
  const weight_map: Record<string, string> = {};
  for (let i = 0; i < 2; i++) {
    const file = `model-0000${i + 1}-of-00002.safetensors`;
    await writeSafetensors(join(dir, file), Object.fromEntries(parts[i]!.map((n) => [n, tensors[n]!])), { format: 'pt' });
    for (const n of parts[i]!) weight_map[n] = file;
  }
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 0 }, weight_map }));
  rmSync(join(dir, 'model.safetensors'));
}

async function logits(m: VisionEncoderDecoder): Promise<Float32Array> {
  const out = await m.forward({ pixel_values: px, labels: Tensor.int64([[5, 6, 7], [8, 9, 99]]) });
  return out.logits!.data as Float32Array;
}

describe('hub downloads (HF_ENDPOINT)', () => {
  it('downloads a repo once into the cache and loads the same model; later loads make no requests', async () => {
    const { model, dir } = await savedModel('plain', 3);
    repos.set('org/tiny', dir);
    const cache = useHub();
    const loaded = await VisionEncoderDecoder.fromPretrained('org/tiny');
    expect(await logits(loaded)).toEqual(await logits(model));
    const cached = join(cache, 'org--tiny', 'main');
    expect(readdirSync(cached).sort()).toEqual(readdirSync(dir).sort()); // no temporary files left
    const before = requests.length;
    await VisionEncoderDecoder.fromPretrained('org/tiny');
    expect(requests.length).toBe(before);
  });

  it('HF_HUB_OFFLINE=1 refuses to download; a missing repo and a missing token say so', async () => {
    useHub();
    process.env.HF_HUB_OFFLINE = '1';
    await expect(resolveModelDir('org/tiny')).rejects.toThrow(/not in the cache .* HF_HUB_OFFLINE=1/);
    delete process.env.HF_HUB_OFFLINE;
    await expect(resolveModelDir('org/nothing')).rejects.toThrow(/org\/nothing has no config.json on the hub/);
    await expect(resolveModelDir('org/private')).rejects.toThrow(/HTTP 401 \(a private or gated model: set HF_TOKEN\)/);
  });

  it('an interrupted download leaves no file under the real name, and the next call completes it', async () => {
    const { model, dir } = await savedModel('cut', 4);
    repos.set('org/cut', dir);
    const cache = useHub();
    truncate.add('model.safetensors');
    const err = await resolveModelDir('org/cut').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TorchCaptionError);
    expect(String(err)).toMatch(/org\/cut\/model.safetensors.*run again/);
    const cached = join(cache, 'org--cut', 'main');
    expect(existsSync(join(cached, 'model.safetensors'))).toBe(false);
    expect(readdirSync(cached).filter((f) => f.endsWith('.part'))).toEqual([]);
    // A large file: the response starts streaming before the connection drops.
    const big = join(root, 'big');
    mkdirSync(big);
    writeFileSync(join(big, 'config.json'), '{}');
    writeFileSync(join(big, 'model.safetensors'), Buffer.alloc(16 << 20, 7));
    repos.set('org/big', big);
    await expect(resolveModelDir('org/big')).rejects.toThrow(/org\/big\/model.safetensors.*run again/);
    expect(readdirSync(join(cache, 'org--big', 'main'))).toEqual(['config.json']);
    truncate.clear();
    const loaded = await VisionEncoderDecoder.fromPretrained('org/cut');
    expect(await logits(loaded)).toEqual(await logits(model));
  });

  it('fetches every shard of a sharded checkpoint', async () => {
    const { model, dir } = await savedModel('sharded-hub', 5);
    await shard(dir);
    repos.set('org/sharded', dir);
    useHub();
    const loaded = await VisionEncoderDecoder.fromPretrained('org/sharded');
    expect(await logits(loaded)).toEqual(await logits(model));
    expect(requests.filter((r) => r.startsWith('/org/sharded/') && r.endsWith('-of-00002.safetensors'))).toHaveLength(2);
  });
});

describe('sharded safetensors checkpoints', () => {
  it('loads from a local folder with model.safetensors.index.json; a missing shard or tensor is named', async () => {
    const { model, dir } = await savedModel('sharded', 6);
    await shard(dir);
    expect(await logits(await VisionEncoderDecoder.fromPretrained(dir))).toEqual(await logits(model));

    const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8')) as { weight_map: Record<string, string> };
    const dropped = join(root, 'sharded-missing');
    mkdirSync(dropped);
    for (const f of readdirSync(dir)) writeFileSync(join(dropped, f), readFileSync(join(dir, f)));
    rmSync(join(dropped, 'model-00002-of-00002.safetensors'));
    await expect(VisionEncoderDecoder.fromPretrained(dropped)).rejects.toThrow(/lists shards that are not there: .*model-00002-of-00002/);
    // A tensor that is in no shard is reported missing (the other shards do not hide it).
    const lastName = Object.keys(index.weight_map).sort().at(-1)!;
    const { tensors } = await readSafetensors(join(dir, 'model-00002-of-00002.safetensors'));
    delete tensors[lastName];
    await writeSafetensors(join(dropped, 'model-00002-of-00002.safetensors'), tensors, { format: 'pt' });
    await expect(VisionEncoderDecoder.fromPretrained(dropped)).rejects.toThrow(new RegExp(`missing: ${lastName.replace(/\./g, '\\.')}`));
  });

  it('refuses an index whose shard names leave the folder', () => {
    const dir = mkdtempSync(join(root, 'evil-'));
    const p = join(dir, 'model.safetensors.index.json');
    writeFileSync(p, JSON.stringify({ weight_map: { a: '../model.safetensors' } }));
    expect(() => shardFiles(p)).toThrow(FormatError);
    writeFileSync(p, '{"weight_map": 3}');
    expect(() => shardFiles(p)).toThrow(/has no weight_map object/);
  });
});
