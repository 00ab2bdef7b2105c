/**
 * Data-parallel training on loopback: ranks are child processes running test/train/ddp-worker.mjs on the compiled
 * library with the torchrun environment, as the launcher starts them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/net.js';

const here = dirname(fileURLToPath(import.meta.url));
const worker = join(here, 'ddp-worker.mjs');
const bin = join(here, '..', '..', 'bin', 'torch-caption.js');

interface RankResult {
  rank: number;
  losses: number[];
  interrupted: boolean;
  global_step: number;
  checkpoint: string | null;
  predictions?: string[];
  ids?: string[];
  weights: Record<string, number[]>;
}

interface WorkerOptions {
  steps: number;
  batch: number;
  accum?: number;
  outputDir: string;
  resultDir: string;
  trainSize?: number;
  evalSize?: number;
  predict?: boolean;
  resume?: boolean;
  stepDelayMs?: number;
  announceSteps?: boolean;
  timeoutS?: number;
  quiet?: boolean;
  eps?: number;
}

interface Run {
  child: ChildProcess;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

const dirs: string[] = [];
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function temp(): string {
  const d = mkdtempSync(join(tmpdir(), 'tc-ddp-'));
  dirs.push(d);
  return d;
}

/** One process; rank/world/port undefined = the single-process reference (no torchrun variables). */
function start(o: WorkerOptions, rank?: { rank: number; world: number; port: number }, extraEnv: Record<string, string> = {}): Run {
  const env: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: '1', TORCH_CAPTION_DDP_CHECK: '1', ...extraEnv };
  for (const k of ['RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'LOCAL_WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT']) delete env[k];
  if (rank) {
    Object.assign(env, {
      RANK: String(rank.rank), LOCAL_RANK: String(rank.rank), WORLD_SIZE: String(rank.world), LOCAL_WORLD_SIZE: String(rank.world),
      MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(rank.port),
    });
  }
  const child = spawn(process.execPath, [worker, JSON.stringify({ quiet: true, ...o })], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, exit };
}

async function finished(run: Run): Promise<void> {
  const r = await run.exit;
  if (r.code !== 0) throw new Error(`worker exited with ${r.code ?? r.signal}:\n${r.stderr.slice(-3000)}\n${r.stdout.slice(-2000)}`);
}

function result(dir: string, rank: number): RankResult {
  return JSON.parse(readFileSync(join(dir, `rank${rank}.json`), 'utf8')) as RankResult;
}

/** 2 ranks with `batch` each, and one process with 2*batch, side by side. */
async function twoRanksAndReference(o: Omit<WorkerOptions, 'outputDir' | 'resultDir' | 'batch'> & { batch: number }) {
  const port = await freePort();
  const dist = temp();
  const single = temp();
  const ranks = [0, 1].map((r) => start({ ...o, outputDir: join(dist, 'out'), resultDir: dist }, { rank: r, world: 2, port }));
  const ref = start({ ...o, batch: o.batch * 2, outputDir: join(single, 'out'), resultDir: single });
  await Promise.all([...ranks.map(finished), finished(ref)]);
  return { r0: result(dist, 0), r1: result(dist, 1), ref: result(single, 0), dist, single };
}

function maxWeightDiff(a: Record<string, number[]>, b: Record<string, number[]>): number {
  expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
  let d = 0;
  for (const [k, v] of Object.entries(a)) {
    const w = b[k]!;
    expect(w.length).toBe(v.length);
    for (let i = 0; i < v.length; i++) d = Math.max(d, Math.abs(v[i]! - w[i]!));
  }
  return d;
}

function maxLossDiff(a: number[], b: number[]): number {
  expect(a.length).toBe(b.length);
  return Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
}

describe('data-parallel training (2 ranks on loopback, Gloo)', () => {
  // adam_epsilon 1e-6 in the equality tests: AdamW divides by sqrt(v) + eps, so a gradient that is only rounding
  // noise (attention key biases, which softmax ignores, have an exact gradient of 0) becomes a full-size step with
  // the noise's sign, and any two summation orders (1 vs 2 ranks, or 1 vs 2 BLAS threads) then differ there by
  // ~lr per step. With eps 1e-6 noise-level gradients move nothing and the comparison measures data parallelism.
  it('2 ranks x batch 4 train exactly like 1 process with batch 8, and the ranks stay bit-identical', async () => {
    const { r0, r1, ref } = await twoRanksAndReference({ steps: 20, batch: 4, eps: 1e-6 });
    expect(r0.losses).toHaveLength(20);
    expect(r0.losses).toEqual(r1.losses); // the logged loss is the global mean, the same on every rank
    expect(maxLossDiff(r0.losses, ref.losses)).toBeLessThan(1e-6);
    expect(maxWeightDiff(r0.weights, ref.weights)).toBeLessThan(1e-6);
    expect(maxWeightDiff(r0.weights, r1.weights)).toBe(0);
    // It learned something (a test of equality between two frozen runs would prove nothing).
    expect(r0.losses[19]!).toBeLessThan(r0.losses[0]! - 0.5);
  }, 120_000);

  it('with gradient_accumulation_steps 2, 2 ranks x batch 4 equal 1 process with batch 16', async () => {
    const port = await freePort();
    const dist = temp();
    const single = temp();
    const o = { steps: 12, trainSize: 96, eps: 1e-6 };
    const ranks = [0, 1].map((r) => start({ ...o, batch: 4, accum: 2, outputDir: join(dist, 'out'), resultDir: dist }, { rank: r, world: 2, port }));
    const ref = start({ ...o, batch: 16, outputDir: join(single, 'out'), resultDir: single });
    await Promise.all([...ranks.map(finished), finished(ref)]);
    const [r0, r1, s] = [result(dist, 0), result(dist, 1), result(single, 0)];
    expect(maxLossDiff(r0.losses, s.losses)).toBeLessThan(1e-6);
    expect(maxWeightDiff(r0.weights, s.weights)).toBeLessThan(1e-6);
    expect(maxWeightDiff(r0.weights, r1.weights)).toBe(0);
  }, 120_000);

  it('a rank killed with SIGKILL makes the other exit non-zero within 60 s, naming the failure', async () => {
    const port = await freePort();
    const dir = temp();
    const o = { steps: 100_000, batch: 4, outputDir: join(dir, 'out'), resultDir: dir, stepDelayMs: 20, announceSteps: true };
    const [a, b] = [0, 1].map((r) => start(o, { rank: r, world: 2, port }));
    // Kill rank 1 once both are training.
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('rank 1 never reached step 3')), 60_000);
      b!.child.stdout!.on('data', (d: Buffer) => {
        if (/step 3\b/.test(d.toString())) {
          clearTimeout(t);
          resolve();
        }
      });
    });
    const killedAt = Date.now();
    b!.child.kill('SIGKILL');
    const r = await a!.exit;
    const took = Date.now() - killedAt;
    expect(r.code).not.toBe(0);
    expect(took).toBeLessThan(60_000);
    expect(r.stderr).toMatch(/DistributedError/);
    expect(r.stderr).toMatch(/failed on rank 0 of 2/);
    expect(r.stderr).toMatch(/Another rank has probably exited/);
  }, 120_000);

  it('SIGINT to one rank stops both after the same step, saves once, and the resumed run ends where an uninterrupted one does', async () => {
    const port = await freePort();
    const dir = temp();
    const out = join(dir, 'out');
    const o = { steps: 16, batch: 4, outputDir: out, resultDir: dir, stepDelayMs: 40, announceSteps: true };
    const ranks = [0, 1].map((r) => start(o, { rank: r, world: 2, port }));
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('rank 1 never reached step 4')), 60_000);
      ranks[1]!.child.stdout!.on('data', (d: Buffer) => {
        if (/step 4\b/.test(d.toString())) {
          clearTimeout(t);
          resolve();
        }
      });
    });
    ranks[1]!.child.kill('SIGINT');
    await Promise.all(ranks.map(finished));
    const [i0, i1] = [result(dir, 0), result(dir, 1)];
    expect(i0.interrupted).toBe(true);
    expect(i1.interrupted).toBe(true);
    expect(i0.global_step).toBe(i1.global_step);
    expect(i0.global_step).toBeLessThan(16);
    const checkpoints = readdirSync(out).filter((n) => n.startsWith('checkpoint-'));
    expect(checkpoints).toEqual([`checkpoint-${i0.global_step}`]);
    const saved = JSON.parse(readFileSync(join(out, checkpoints[0]!, 'trainer_state.json'), 'utf8')) as { world_size: number };
    expect(saved.world_size).toBe(2);

    // Resume both ranks, and run the same 16 steps uninterrupted elsewhere.
    const port2 = await freePort();
    const resumed = [0, 1].map((r) => start({ ...o, stepDelayMs: 0, announceSteps: false, resume: true }, { rank: r, world: 2, port: port2 }));
    const ref = temp();
    const port3 = await freePort();
    const straight = [0, 1].map((r) => start({ ...o, outputDir: join(ref, 'out'), resultDir: ref, stepDelayMs: 0, announceSteps: false }, { rank: r, world: 2, port: port3 }));
    await Promise.all([...resumed, ...straight].map(finished));
    const [f0, s0] = [result(dir, 0), result(ref, 0)];
    expect(f0.global_step).toBe(16);
    expect([...i0.losses, ...f0.losses]).toEqual(s0.losses);
    expect(maxWeightDiff(f0.weights, s0.weights)).toBe(0);
    expect(existsSync(join(out, 'checkpoint-16'))).toBe(false); // save_strategy 'no': only the interrupt saved
  }, 180_000);

  it('evaluation splits the eval set over the ranks and gathers every prediction once, in order', async () => {
    const { r0, r1, ref } = await twoRanksAndReference({ steps: 4, batch: 4, predict: true, evalSize: 7 });
    expect(ref.ids).toHaveLength(7);
    expect(r0.ids).toEqual(ref.ids);
    expect(r1.ids).toEqual(ref.ids);
    expect(new Set(r0.ids).size).toBe(7);
    expect(r0.predictions).toEqual(r1.predictions);
    expect(r0.predictions).toHaveLength(7);
    expect(r0.predictions).toEqual(ref.predictions);
  }, 120_000);

  it('torch-caption train --nproc-per-node 2 trains one model on 2 ranks (rank 0 saves it, with eval gathered)', async () => {
    const dir = temp();
    const cfg = join(dir, 'train.json');
    writeFileSync(cfg, JSON.stringify({
      model: { config: 'tiny', imageSize: 16 },
      dataset: { type: 'synthetic', size: 16, seed: 1, imageSize: 16, maxShapes: 1 },
      eval_dataset: { type: 'synthetic', size: 5, seed: 2, imageSize: 16, maxShapes: 1 },
      args: { output_dir: join(dir, 'model'), max_steps: 3, per_device_train_batch_size: 4, learning_rate: 1e-3, save_strategy: 'no', eval_strategy: 'steps', eval_steps: 3, predict_with_generate: true, generation_max_length: 8 },
    }));
    const port = await freePort();
    const child = spawn(process.execPath, [bin, 'train', '--config', cfg, '--json', '--nproc-per-node', '2', '--master-port', String(port)], {
      env: { ...process.env, OMP_NUM_THREADS: '1' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code, err).toBe(0);
    const j = JSON.parse(out.trim().split('\n').pop()!) as Record<string, unknown>;
    expect(j).toMatchObject({ global_step: 3, interrupted: false, eval_Bleu_4: expect.any(Number) });
    const state = JSON.parse(readFileSync(join(dir, 'model', 'trainer_state.json'), 'utf8')) as { world_size: number; train_batch_size: number };
    expect(state.world_size).toBe(2);
    expect(existsSync(join(dir, 'model', 'model.safetensors'))).toBe(true);
    expect(err).toMatch(/Data-parallel: 2 ranks \(gloo\), batch 4 per rank/);
  }, 120_000);
});
