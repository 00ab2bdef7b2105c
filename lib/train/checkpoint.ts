/**
 * Checkpoint folders in the Hugging Face layout (output_dir/checkpoint-<step>/), written atomically: every
 * file goes into a temporary folder inside output_dir, is fsynced, and the folder is renamed into place (a
 * crash leaves either the previous state or the complete checkpoint, never half of one). Rotation by
 * save_total_limit keeps the best checkpoint, as transformers' _rotate_checkpoints does.
 */
import { existsSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { FormatError, InvalidArgumentError } from '../errors.js';
import { readJson } from '../json.js';
import { native, type RawTensor } from '../native.js';
import type { AdamWState } from '../optim/adamw.js';

export const CHECKPOINT_PREFIX = 'checkpoint-';
export const TRAINER_STATE_NAME = 'trainer_state.json';
export const OPTIMIZER_NAME = 'optimizer.safetensors';
export const OPTIMIZER_META_NAME = 'optimizer.json';
export const SCHEDULER_NAME = 'scheduler.json';
/** GradScaler state (torch saves scaler.pt; JSON here, same keys). */
export const SCALER_NAME = 'scaler.json';
export const RNG_STATE_NAME = 'rng_state.json';
export const LOADER_STATE_NAME = 'loader_state.json';
export const TRAINING_ARGS_NAME = 'training_args.json';

export interface CheckpointInfo {
  step: number;
  path: string;
}

/** Complete checkpoints (a trainer_state.json inside) of output_dir, oldest step first. */
export async function listCheckpoints(outputDir: string): Promise<CheckpointInfo[]> {
  if (!existsSync(outputDir)) return [];
  const out: CheckpointInfo[] = [];
  for (const name of await readdir(outputDir)) {
    const m = /^checkpoint-(\d+)$/.exec(name);
    if (!m) continue;
    const path = join(outputDir, name);
    if (!existsSync(join(path, TRAINER_STATE_NAME))) continue;
    out.push({ step: Number(m[1]), path });
  }
  return out.sort((a, b) => a.step - b.step);
}

/** The checkpoint with the highest step, or null. */
export async function latestCheckpoint(outputDir: string): Promise<string | null> {
  const all = await listCheckpoints(outputDir);
  return all.length ? all[all.length - 1]!.path : null;
}

async function fsyncPath(path: string, dir: boolean): Promise<void> {
  let fh;
  try {
    fh = await open(path, dir ? 'r' : 'r+');
    await fh.sync();
  } catch (err) {
    // Some file systems refuse fsync on folders; files must sync.
    if (!dir) throw err;
  } finally {
    await fh?.close();
  }
}

async function fsyncTree(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) await fsyncTree(p);
    else if (entry.isFile()) await fsyncPath(p, false);
  }
  await fsyncPath(dir, true);
}

/** Remove leftovers of interrupted checkpoint writes (temporary folders) in output_dir. */
export async function removeStaleTemporaries(outputDir: string): Promise<void> {
  if (!existsSync(outputDir)) return;
  for (const name of await readdir(outputDir)) {
    if (name.startsWith('.tmp-checkpoint-') || name.startsWith('.old-checkpoint-')) await rm(join(outputDir, name), { recursive: true, force: true });
  }
}

/**
 * Write output_dir/<name>/ atomically: `fill(tmpDir)` writes the files, then they are fsynced and the folder
 * renamed into place (an existing folder of that name is replaced).
 */
export async function writeFolderAtomic(outputDir: string, name: string, fill: (tmpDir: string) => Promise<void>): Promise<string> {
  await mkdir(outputDir, { recursive: true });
  const final = join(outputDir, name);
  const tmp = join(outputDir, `.tmp-${name}-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp);
  try {
    await fill(tmp);
    await fsyncTree(tmp);
    if (existsSync(final)) {
      const old = join(outputDir, `.old-${name}-${process.pid}`);
      await rm(old, { recursive: true, force: true });
      await rename(final, old);
      await rename(tmp, final);
      await rm(old, { recursive: true, force: true });
    } else {
      await rename(tmp, final);
    }
    await fsyncPath(outputDir, true);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  return final;
}

/** Write a JSON file (pretty, newline at the end, as transformers writes its JSON). */
export async function writeJson(path: string, value: unknown): Promise<void> {
  await writeFile(path, JSON.stringify(value, null, 2) + '\n');
}

/** readJson (lib/json.ts) under its old checkpoint name, typed as an object by default. */
export function readJsonFile<T = Record<string, unknown>>(path: string): Promise<T> {
  return readJson<T>(path);
}

/** optimizer.safetensors (the AdamW moments by parameter name) and optimizer.json ({step}). */
export async function saveOptimizerState(dir: string, state: AdamWState): Promise<void> {
  await native().writeSafetensors(join(dir, OPTIMIZER_NAME), state.tensors, { step: String(state.step), format: 'torch-caption-adamw' });
  await writeJson(join(dir, OPTIMIZER_META_NAME), { step: state.step, tensors: Object.keys(state.tensors).length });
}

export async function loadOptimizerState(dir: string): Promise<AdamWState> {
  const path = join(dir, OPTIMIZER_NAME);
  if (!existsSync(path)) throw new FormatError(`${dir} has no ${OPTIMIZER_NAME}; cannot resume the optimizer`);
  const { tensors, metadata } = await native().readSafetensors(path);
  let step = Number(metadata?.step);
  if (!Number.isInteger(step)) {
    const meta = await readJsonFile<{ step?: number }>(join(dir, OPTIMIZER_META_NAME));
    step = Number(meta.step);
  }
  if (!Number.isInteger(step) || step < 0) throw new FormatError(`${path} does not record the optimizer step`);
  return { step, tensors: tensors as Record<string, RawTensor> };
}

/**
 * Delete the oldest checkpoints beyond `limit`, never the best one: as transformers, the best checkpoint is
 * moved next to the newest before cutting, and with limit 1 and a best that is not the newest, two are kept.
 * Returns the deleted paths.
 */
export async function rotateCheckpoints(outputDir: string, limit: number | null, bestPath: string | null): Promise<string[]> {
  if (limit === null || limit <= 0) return [];
  const sorted = (await listCheckpoints(outputDir)).map((c) => c.path);
  const best = bestPath ? resolve(bestPath) : null;
  const bestIndex = best ? sorted.findIndex((p) => resolve(p) === best) : -1;
  if (bestIndex >= 0) {
    for (let i = bestIndex; i < sorted.length - 2; i++) [sorted[i], sorted[i + 1]] = [sorted[i + 1]!, sorted[i]!];
  }
  let keep = limit;
  if (best && keep === 1 && sorted.length && resolve(sorted[sorted.length - 1]!) !== best) keep = 2;
  const remove = sorted.slice(0, Math.max(0, sorted.length - keep));
  for (const p of remove) await rm(p, { recursive: true, force: true });
  return remove;
}

/** Resolve resume_from_checkpoint: true = the latest checkpoint of output_dir; a string = that folder. */
export async function resolveResumePath(value: string | boolean | null | undefined, outputDir: string): Promise<string | null> {
  if (value === null || value === undefined || value === false) return null;
  if (value === true) {
    const latest = await latestCheckpoint(outputDir);
    if (!latest) throw new InvalidArgumentError(`resume_from_checkpoint is true but ${outputDir} has no checkpoint-<step> folder to resume from`);
    return latest;
  }
  const path = resolve(value);
  let isDir = false;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch {
    isDir = false;
  }
  if (!isDir || !existsSync(join(path, TRAINER_STATE_NAME))) {
    throw new InvalidArgumentError(`Expected a checkpoint folder with ${TRAINER_STATE_NAME} for resume_from_checkpoint but received ${JSON.stringify(value)}`);
  }
  return path;
}

/** The step of a checkpoint folder from its name (checkpoint-<step>), or null. */
export function checkpointStep(path: string): number | null {
  const m = /^checkpoint-(\d+)$/.exec(basename(path));
  return m ? Number(m[1]) : null;
}
