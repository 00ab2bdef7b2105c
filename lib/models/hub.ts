/**
 * Resolve a model reference to a local folder: a folder path as is, or a Hugging Face hub id
 * ("org/name") downloaded once into the cache (HF_HOME or ~/.cache/torch-caption/hub). Set
 * HF_HUB_OFFLINE=1 to forbid downloads; HF_TOKEN is sent for private repos; HF_ENDPOINT changes the server.
 *
 * Files are streamed to disk (a 1 GB checkpoint never sits in memory), written to a temporary name,
 * fsynced and renamed, so an interrupted download never leaves a truncated file under the real name.
 * Sharded checkpoints (model.safetensors.index.json) are fetched shard by shard.
 */
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FormatError, TorchCaptionError } from '../errors.js';

const CONFIG_FILES = ['config.json', 'generation_config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json',
  'special_tokens_map.json', 'vocab.json', 'merges.txt', 'vocab.txt', 'added_tokens.json', 'processor_config.json'];
/** Weight files in order of preference: the first one the hub has is downloaded. */
const WEIGHT_FILES = ['model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin'];
export const SAFETENSORS_INDEX = 'model.safetensors.index.json';

export function cacheDir(): string {
  return process.env.TORCH_CAPTION_CACHE ?? join(process.env.HF_HOME ?? join(homedir(), '.cache', 'torch-caption'), 'hub');
}

function looksLikeHubId(ref: string): boolean {
  return /^[\w.-]+\/[\w.-]+$/.test(ref) && !ref.startsWith('.') && !existsSync(ref);
}

/** The shard file names of a model.safetensors.index.json (its weight_map values), validated. */
export function shardFiles(indexPath: string): string[] {
  let index: unknown;
  try {
    index = JSON.parse(readFileSync(indexPath, 'utf8'));
  } catch (err) {
    throw new FormatError(`Cannot read ${indexPath}: ${(err as Error).message}`, { cause: err });
  }
  const map = (index as { weight_map?: unknown } | null)?.weight_map;
  if (map === null || typeof map !== 'object' || Array.isArray(map)) throw new FormatError(`${indexPath} has no weight_map object`);
  const files = [...new Set(Object.values(map as Record<string, unknown>))];
  for (const f of files) {
    // Shards live beside the index: a path that leaves the folder is refused.
    if (typeof f !== 'string' || !/^[\w.-]+\.safetensors$/.test(f)) throw new FormatError(`${indexPath} names a shard ${JSON.stringify(f)} that is not a .safetensors file in the same folder`);
  }
  return files as string[];
}

/** The weights of a local folder: model.safetensors, the shards of its index, or pytorch_model.bin. */
export function weightFiles(dir: string): string[] {
  if (existsSync(join(dir, 'model.safetensors'))) return [join(dir, 'model.safetensors')];
  if (existsSync(join(dir, SAFETENSORS_INDEX))) {
    const files = shardFiles(join(dir, SAFETENSORS_INDEX)).map((f) => join(dir, f));
    const missing = files.filter((f) => !existsSync(f));
    if (missing.length) throw new TorchCaptionError(`${join(dir, SAFETENSORS_INDEX)} lists shards that are not there: ${missing.join(', ')}`);
    return files;
  }
  if (existsSync(join(dir, 'pytorch_model.bin'))) return [join(dir, 'pytorch_model.bin')];
  return [];
}

export interface ResolveOptions {
  revision?: string;
  /** Download progress (bytes so far, total when the server says); default: lines on stderr for large files. */
  onProgress?: (file: string, received: number, total: number | null) => void;
}

/** A local folder for `ref`, downloading from the hub when `ref` is an id that is not a local path. */
export async function resolveModelDir(ref: string, opts: ResolveOptions = {}): Promise<string> {
  if (existsSync(ref)) return ref;
  if (!looksLikeHubId(ref)) throw new TorchCaptionError(`Model folder not found: ${ref}`);
  const revision = opts.revision ?? 'main';
  const dir = join(cacheDir(), ref.replace('/', '--'), revision);
  if (existsSync(join(dir, 'config.json')) && weightFiles(dir).length) return dir;
  if (process.env.HF_HUB_OFFLINE === '1') {
    throw new TorchCaptionError(`${ref} is not in the cache (${dir}) and HF_HUB_OFFLINE=1 forbids downloading it`);
  }
  await mkdir(dir, { recursive: true });
  const get = (file: string): Promise<boolean> => download(ref, revision, file, join(dir, file), opts.onProgress ?? stderrProgress());
  if (!(await get('config.json'))) throw new TorchCaptionError(`${ref} has no config.json on the hub (revision ${revision})`);
  for (const file of CONFIG_FILES.slice(1)) await get(file);
  let weights: string | undefined;
  for (const file of WEIGHT_FILES) {
    if (await get(file)) {
      weights = file;
      break;
    }
  }
  if (!weights) throw new TorchCaptionError(`${ref} has no weights on the hub (looked for ${WEIGHT_FILES.join(', ')})`);
  if (weights === SAFETENSORS_INDEX) {
    for (const shard of shardFiles(join(dir, SAFETENSORS_INDEX))) {
      if (!(await get(shard))) throw new TorchCaptionError(`${ref}: the shard ${shard} named in ${SAFETENSORS_INDEX} is not on the hub`);
    }
  }
  return dir;
}

/** GET one file into `dest` (temp name, fsync, rename). false on 404; existing files are kept. */
async function download(ref: string, revision: string, file: string, dest: string, progress: ProgressFn): Promise<boolean> {
  if (existsSync(dest)) return true;
  const endpoint = process.env.HF_ENDPOINT ?? 'https://huggingface.co';
  const headers: Record<string, string> = process.env.HF_TOKEN ? { authorization: `Bearer ${process.env.HF_TOKEN}` } : {};
  const url = `${endpoint}/${ref}/resolve/${encodeURIComponent(revision)}/${file}`;
  let res: Response;
  try {
    res = await fetch(url, { headers });
  } catch (err) {
    const e = err as Error & { cause?: { message?: string } };
    const reason = e.cause?.message ?? e.message;
    throw new TorchCaptionError(
      `Could not download ${ref}/${file} from ${endpoint}: ${reason}. Check the connection and run again, or download the model folder yourself and pass its path.`,
      { cause: err },
    );
  }
  if (res.status === 404) {
    await res.body?.cancel();
    return false;
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    const hint = res.status === 401 || res.status === 403 ? ' (a private or gated model: set HF_TOKEN)' : '';
    throw new TorchCaptionError(`Downloading ${ref}/${file} failed: HTTP ${res.status}${hint}`);
  }
  const total = Number(res.headers.get('content-length')) || null;
  const tmp = join(dirname(dest), `.${file}.${process.pid}.part`);
  let received = 0;
  const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
  body.on('data', (chunk: Buffer) => {
    received += chunk.length;
    progress(`${ref}/${file}`, received, total);
  });
  try {
    await pipeline(body, createWriteStream(tmp));
    if (total !== null && received !== total) throw new TorchCaptionError(`Downloading ${ref}/${file} stopped after ${received} of ${total} bytes; run again to retry`);
    const fh = await open(tmp, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, dest);
  } catch (err) {
    await rm(tmp, { force: true });
    if (err instanceof TorchCaptionError) throw err;
    throw new TorchCaptionError(`Downloading ${ref}/${file} failed: ${(err as Error).message}; run again to retry`, { cause: err });
  }
  progress(`${ref}/${file}`, received, received);
  return true;
}

type ProgressFn = (file: string, received: number, total: number | null) => void;

/** Progress of files above 20 MB on stderr: a line at every 10% (and one when done). */
function stderrProgress(): ProgressFn {
  const shown = new Map<string, number>();
  return (file, received, total) => {
    if ((total ?? received) < 20e6) return;
    const mb = (n: number): string => (n / 1e6).toFixed(0);
    const tenth = total ? Math.floor((10 * received) / total) : Math.floor(received / 100e6);
    if (shown.get(file) === tenth) return;
    shown.set(file, tenth);
    process.stderr.write(`[torch-caption] downloading ${file}: ${mb(received)}${total ? ` / ${mb(total)}` : ''} MB\n`);
  };
}
