/**
 * Resolve a model reference to a local folder: a folder path as is, or a Hugging Face hub id
 * ("org/name") downloaded once into the cache (HF_HOME or ~/.cache/torch-caption/hub). Set
 * HF_HUB_OFFLINE=1 to forbid downloads; HF_TOKEN is sent for private repos.
 */
import { existsSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { TorchCaptionError } from '../errors.js';

const WANTED = ['config.json', 'generation_config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json',
  'special_tokens_map.json', 'vocab.json', 'merges.txt', 'model.safetensors', 'pytorch_model.bin'];
const REQUIRED = ['config.json'];

export function cacheDir(): string {
  return process.env.TORCH_CAPTION_CACHE ?? join(process.env.HF_HOME ?? join(homedir(), '.cache', 'torch-caption'), 'hub');
}

function looksLikeHubId(ref: string): boolean {
  return /^[\w.-]+\/[\w.-]+$/.test(ref) && !ref.startsWith('.') && !existsSync(ref);
}

/** A local folder for `ref`, downloading from the hub when `ref` is an id that is not a local path. */
export async function resolveModelDir(ref: string, opts: { revision?: string } = {}): Promise<string> {
  if (existsSync(ref)) return ref;
  if (!looksLikeHubId(ref)) throw new TorchCaptionError(`Model folder not found: ${ref}`);
  const revision = opts.revision ?? 'main';
  const dir = join(cacheDir(), ref.replace('/', '--'), revision);
  if (existsSync(join(dir, 'config.json')) && (existsSync(join(dir, 'model.safetensors')) || existsSync(join(dir, 'pytorch_model.bin')))) return dir;
  if (process.env.HF_HUB_OFFLINE === '1') {
    throw new TorchCaptionError(`${ref} is not in the cache (${dir}) and HF_HUB_OFFLINE=1 forbids downloading it`);
  }
  await mkdir(dir, { recursive: true });
  const endpoint = process.env.HF_ENDPOINT ?? 'https://huggingface.co';
  const headers: Record<string, string> = process.env.HF_TOKEN ? { authorization: `Bearer ${process.env.HF_TOKEN}` } : {};
  let weights = false;
  for (const file of WANTED) {
    if (weights && file === 'pytorch_model.bin') continue;
    let res: Response;
    try {
      res = await fetch(`${endpoint}/${ref}/resolve/${revision}/${file}`, { headers });
    } catch (err) {
      throw new TorchCaptionError(`Could not download ${ref}/${file} from ${endpoint} (offline?). Download the model folder yourself and pass its path.`, { cause: err });
    }
    if (res.status === 404) {
      if (REQUIRED.includes(file)) throw new TorchCaptionError(`${ref} has no ${file} on the hub`);
      continue;
    }
    if (!res.ok) throw new TorchCaptionError(`Downloading ${ref}/${file} failed: HTTP ${res.status}`);
    const tmp = join(dir, `.${file}.part`);
    await writeFile(tmp, Buffer.from(await res.arrayBuffer()));
    await rename(tmp, join(dir, file));
    if (file === 'model.safetensors') weights = true;
  }
  return dir;
}
