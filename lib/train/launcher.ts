/**
 * A torchrun-compatible process launcher for data-parallel training: `launch()` starts one worker process per
 * rank on this node with torchrun's environment (RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR, ...), streams
 * their output, forwards SIGINT/SIGTERM, and stops the whole group when one rank fails. It does no
 * rendezvous itself: the workers meet at MASTER_ADDR:MASTER_PORT. See docs/training.md, "Data-parallel training".
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { InvalidArgumentError } from '../errors.js';
import { packageRoot } from '../paths.js';

/** Options of {@link launch}. */
export interface LaunchOptions {
  /** Worker processes on this node (torchrun's `--nproc-per-node`); one per GPU when training on GPUs. */
  nprocPerNode: number;
  /** Nodes in the job (default 1); every node runs the same launch with its own `nodeRank`. */
  nnodes?: number;
  /** This node's index, 0 ≤ nodeRank < nnodes (default 0). Node 0 hosts rank 0 and the rendezvous store. */
  nodeRank?: number;
  /** Address of node 0, reachable from every node (default '127.0.0.1'). */
  masterAddr?: string;
  /** A free TCP port on node 0 for the rendezvous store (default 29500). */
  masterPort?: number;
  /**
   * Arguments for the default worker command, `node [execArgv] bin/torch-caption.js ...argv`
   * (e.g. `['train', '--config', 'train.json']`). Ignored when `command` is given.
   */
  argv?: readonly string[];
  /** The whole worker command, `[file, ...args]`, instead of the default (any program that reads the env). */
  command?: readonly string[];
  /**
   * After the first rank fails, how long the others get to exit by themselves (a broken collective makes
   * them fail) before they are sent SIGTERM, in ms (default 30000).
   */
  graceMs?: number;
  /** From SIGTERM to SIGKILL for ranks still running after the grace time, in ms (default 5000). */
  killTimeoutMs?: number;
  /** Extra environment for every worker, over this process's; the rank variables cannot be overridden. */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * Where rank 0's stdout goes, unprefixed (default process.stdout, which rank 0 then inherits directly).
   */
  stdout?: NodeJS.WritableStream;
  /**
   * Where every rank's stderr and the other ranks' stdout go, each line prefixed `[rank N] `, plus the
   * launcher's own notes (default process.stderr). Keeping the other ranks off stdout keeps `--json`'s
   * "last stdout line" rank 0's.
   */
  stderr?: NodeJS.WritableStream;
  /** TORCHELASTIC_RUN_ID for the workers (default 'none', torchrun's default for a static rendezvous). */
  runId?: string;
  /** Lines of each rank's stderr kept for the failure message (default 20). */
  tailLines?: number;
  /**
   * Forward SIGINT and SIGTERM received by this process to the workers (default true). While launch() runs
   * it owns these signals: the first is forwarded, the second too (workers abort at once), a third kills them.
   */
  forwardSignals?: boolean;
}

/** A worker's view of its place in the job, read from torchrun's environment variables. */
interface Resolved {
  nproc: number;
  nnodes: number;
  nodeRank: number;
  masterAddr: string;
  masterPort: number;
  command: readonly string[];
  graceMs: number;
  killTimeoutMs: number;
  env: Readonly<Record<string, string | undefined>>;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  runId: string;
  tailLines: number;
  forwardSignals: boolean;
}

interface WorkerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

interface Worker {
  rank: number;
  localRank: number;
  child: ChildProcess;
  tail: string[];
  exit?: WorkerExit;
  done: Promise<WorkerExit>;
}

const NOTE = 'torch-caption launch: ';
/** After 'exit', how long a worker's pipes may stay open (a grandchild holding them) before it counts as done. */
const CLOSE_WAIT_MS = 2000;
/** After SIGKILL, how long to wait for the exit events before giving up on a worker. */
const KILL_WAIT_MS = 5000;
const MAX_LINE = 2000;

function checkInt(value: unknown, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `an integer ≥ ${min}` : `an integer in [${min}, ${max}]`;
    throw new InvalidArgumentError(`Expected ${range} for ${name} but received ${JSON.stringify(value)}`);
  }
  return value;
}

/** The torch-caption CLI of this package, run by the same node with the same flags as this process. */
function defaultCommand(argv: readonly string[]): string[] {
  return [process.execPath, ...process.execArgv, join(packageRoot(), 'bin', 'torch-caption.js'), ...argv];
}

function resolveOptions(o: LaunchOptions): Resolved {
  const nproc = checkInt(o.nprocPerNode, 'nprocPerNode', 1);
  const nnodes = checkInt(o.nnodes ?? 1, 'nnodes', 1);
  const nodeRank = checkInt(o.nodeRank ?? 0, 'nodeRank', 0, nnodes - 1);
  const masterAddr = o.masterAddr ?? '127.0.0.1';
  if (typeof masterAddr !== 'string' || !masterAddr) throw new InvalidArgumentError(`Expected a host name or address for masterAddr but received ${JSON.stringify(masterAddr)}`);
  const command = o.command ?? defaultCommand(o.argv ?? []);
  if (command.length === 0 || !command[0]) throw new InvalidArgumentError('Expected a non-empty worker command');
  return {
    nproc, nnodes, nodeRank, masterAddr, command,
    masterPort: checkInt(o.masterPort ?? 29500, 'masterPort', 1, 65535),
    graceMs: checkInt(o.graceMs ?? 30_000, 'graceMs', 0),
    killTimeoutMs: checkInt(o.killTimeoutMs ?? 5000, 'killTimeoutMs', 0),
    env: o.env ?? {},
    stdout: o.stdout ?? process.stdout,
    stderr: o.stderr ?? process.stderr,
    runId: o.runId ?? 'none',
    tailLines: checkInt(o.tailLines ?? 20, 'tailLines', 0),
    forwardSignals: o.forwardSignals ?? true,
  };
}

/**
 * OMP_NUM_THREADS for each rank, or null to leave it alone. torchrun sets 1; here the ranks share this
 * machine's cores, so each gets its share (libtorch's intra-op thread count follows OMP_NUM_THREADS).
 */
function ompThreads(r: Resolved): number | null {
  const given = 'OMP_NUM_THREADS' in r.env ? r.env.OMP_NUM_THREADS : process.env.OMP_NUM_THREADS;
  if (r.nproc <= 1 || given !== undefined) return null;
  return Math.max(1, Math.floor(availableParallelism() / r.nproc));
}

/** The environment of one worker: this process's, the overrides, then torchrun's variables for its rank. */
function workerEnvironment(r: Resolved, localRank: number, omp: number | null): NodeJS.ProcessEnv {
  const rank = r.nodeRank * r.nproc + localRank;
  const worldSize = r.nnodes * r.nproc;
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries(r.env)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  if (omp !== null) env.OMP_NUM_THREADS = String(omp);
  return Object.assign(env, {
    RANK: String(rank), LOCAL_RANK: String(localRank), WORLD_SIZE: String(worldSize), LOCAL_WORLD_SIZE: String(r.nproc),
    GROUP_RANK: String(r.nodeRank), NODE_RANK: String(r.nodeRank), GROUP_WORLD_SIZE: String(r.nnodes),
    ROLE_RANK: String(rank), ROLE_WORLD_SIZE: String(worldSize), ROLE_NAME: 'default',
    MASTER_ADDR: r.masterAddr, MASTER_PORT: String(r.masterPort),
    TORCHELASTIC_RUN_ID: r.runId, TORCHELASTIC_RESTART_COUNT: '0', TORCHELASTIC_MAX_RESTARTS: '0',
  });
}

/** Calls `onLine` with each complete line of `stream` (and the unterminated rest at its end). */
function eachLine(stream: Readable, onLine: (line: string) => void): void {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop() ?? '';
    for (const p of parts) onLine(p);
  });
  stream.on('end', () => {
    if (rest) onLine(rest);
    rest = '';
  });
}

function pushTail(tail: string[], line: string, max: number): void {
  if (max === 0) return;
  tail.push(line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)}…` : line);
  if (tail.length > max) tail.shift();
}

function stdioFor(r: Resolved, localRank: number): StdioOptions {
  // Rank 0 writes to the terminal itself when the output is this process's stdout (no copy, TTY kept).
  const inherit = localRank === 0 && r.nodeRank === 0 && r.stdout === process.stdout;
  return ['ignore', inherit ? 'inherit' : 'pipe', 'pipe'];
}

/** Resolves once the worker exited and its pipes closed (bounded: a grandchild may keep them open). */
function whenDone(child: ChildProcess): Promise<WorkerExit> {
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = (exit: WorkerExit): void => {
      clearTimeout(timer);
      resolve(exit);
    };
    child.once('error', (error) => {
      // A failed spawn has no pid and emits no 'exit'; a failed kill() on a live child is not fatal.
      if (child.pid === undefined) finish({ code: null, signal: null, error });
    });
    child.once('exit', (code, signal) => {
      timer = setTimeout(() => finish({ code, signal }), CLOSE_WAIT_MS);
    });
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) => finish({ code, signal }));
  });
}

function startWorker(r: Resolved, localRank: number, omp: number | null): Worker {
  const rank = r.nodeRank * r.nproc + localRank;
  const [file, ...args] = r.command as [string, ...string[]];
  // Own process group (POSIX): a terminal Ctrl-C reaches only the launcher, which forwards it once;
  // otherwise each worker would get it twice and take the second as "abort without a checkpoint".
  const child = spawn(file, args, {
    env: workerEnvironment(r, localRank, omp), stdio: stdioFor(r, localRank), detached: process.platform !== 'win32',
  });
  const w: Worker = { rank, localRank, child, tail: [], done: whenDone(child) };
  const prefix = `[rank ${rank}] `;
  if (child.stdout) {
    if (rank === 0) child.stdout.on('data', (d: Buffer) => r.stdout.write(d));
    else eachLine(child.stdout, (line) => r.stderr.write(`${prefix}${line}\n`));
  }
  if (child.stderr) {
    eachLine(child.stderr, (line) => {
      pushTail(w.tail, line, r.tailLines);
      r.stderr.write(`${prefix}${line}\n`);
    });
  }
  return w;
}

/** Signals a worker's whole process group (a shell wrapper's children too), or the process alone. */
function signalWorker(w: Worker, signal: NodeJS.Signals): void {
  if (w.exit || w.child.pid === undefined) return;
  try {
    if (process.platform === 'win32') w.child.kill(signal);
    else process.kill(-w.child.pid, signal);
  } catch {
    w.child.kill(signal); // the group is gone or not ours: the process itself may remain
  }
}

function describeExit(e: WorkerExit): string {
  if (e.error) return `could not start (${e.error.message})`;
  if (e.signal) return `was killed by ${e.signal}`;
  return `exited with code ${String(e.code)}`;
}

const failedExit = (e: WorkerExit): boolean => e.error !== undefined || e.signal !== null || e.code !== 0;

/** The failure report: one line naming the rank and how it ended, then the last lines of its stderr. */
function reportFailure(r: Resolved, w: Worker, others: number): void {
  const after = others > 0 ? `; stopping the other ${others} rank(s) (they get ${r.graceMs / 1000} s to exit, then SIGTERM)` : '';
  const tail = w.tail.length ? `\n${NOTE}last stderr lines of rank ${w.rank}:\n${w.tail.map((l) => `  | ${l}`).join('\n')}` : '';
  r.stderr.write(`${NOTE}rank ${w.rank} (local rank ${w.localRank}, pid ${String(w.child.pid)}) ${describeExit(w.exit!)}${after}${tail}\n`);
}

/** Bounded shutdown after a failure: grace time, then SIGTERM, then SIGKILL, then give up waiting. */
class Shutdown {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly r: Resolved, private readonly running: () => Worker[], private readonly giveUp: () => void) {}

  start(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => this.terminate(), this.r.graceMs);
  }

  private terminate(): void {
    const left = this.running();
    this.r.stderr.write(`${NOTE}sending SIGTERM to rank(s) ${left.map((w) => w.rank).join(', ')} (still running after the grace time)\n`);
    for (const w of left) signalWorker(w, 'SIGTERM');
    this.timer = setTimeout(() => this.kill(), this.r.killTimeoutMs);
  }

  kill(): void {
    clearTimeout(this.timer);
    const left = this.running();
    if (left.length) this.r.stderr.write(`${NOTE}sending SIGKILL to rank(s) ${left.map((w) => w.rank).join(', ')}\n`);
    for (const w of left) signalWorker(w, 'SIGKILL');
    this.timer = setTimeout(() => this.giveUp(), KILL_WAIT_MS);
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}

/** Installs the SIGINT/SIGTERM forwarding; returns its removal. */
function forwardSignals(r: Resolved, running: () => Worker[], shutdown: Shutdown): () => void {
  let received = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    received++;
    const left = running();
    if (received >= 3) {
      r.stderr.write(`${NOTE}${signal} a third time: killing the workers\n`);
      shutdown.kill();
      return;
    }
    const hint = received === 1 ? ' (they save a checkpoint and exit; again to abort at once)' : ' (again to kill them)';
    r.stderr.write(`${NOTE}${signal}: forwarded to ${left.length} worker(s)${hint}\n`);
    for (const w of left) signalWorker(w, signal);
  };
  // If this process exits while workers run (an uncaught error, process.exit), they must not outlive it.
  const onExit = (): void => {
    for (const w of running()) signalWorker(w, 'SIGKILL');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', onExit);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', onExit);
  };
}

/** Watches the workers; resolves to 0 when every one exited 0, else 1 (after stopping the rest). */
function supervise(r: Resolved, workers: Worker[]): Promise<number> {
  return new Promise((resolve) => {
    const running = (): Worker[] => workers.filter((w) => !w.exit);
    let failed = false;
    let settled = false;
    let unforward = (): void => {};
    const settle = (): void => {
      if (settled) return;
      settled = true;
      shutdown.stop();
      unforward();
      resolve(failed ? 1 : 0);
    };
    const shutdown = new Shutdown(r, running, () => {
      r.stderr.write(`${NOTE}rank(s) ${running().map((w) => w.rank).join(', ')} did not exit after SIGKILL; giving up on them\n`);
      settle();
    });
    const onExit = (w: Worker): void => {
      if (failedExit(w.exit!)) {
        if (!failed) reportFailure(r, w, running().length);
        else r.stderr.write(`${NOTE}rank ${w.rank} ${describeExit(w.exit!)}\n`);
        failed = true;
        shutdown.start();
      }
      if (running().length === 0) settle();
    };
    if (r.forwardSignals) unforward = forwardSignals(r, running, shutdown);
    for (const w of workers) {
      void w.done.then((exit) => {
        w.exit = exit;
        onExit(w);
      });
    }
  });
}

/**
 * Starts `nprocPerNode` worker processes with torchrun's environment and supervises them; resolves to the
 * exit code: 0 when every worker exited 0, 1 when one failed (exit code ≠ 0, a signal, or no start).
 *
 * Each worker gets RANK = nodeRank·nprocPerNode + LOCAL_RANK, LOCAL_RANK, WORLD_SIZE = nnodes·nprocPerNode,
 * LOCAL_WORLD_SIZE, GROUP_RANK / NODE_RANK, GROUP_WORLD_SIZE, MASTER_ADDR, MASTER_PORT and
 * TORCHELASTIC_RUN_ID; with more than one worker and OMP_NUM_THREADS unset, OMP_NUM_THREADS =
 * max(1, ⌊cores / nprocPerNode⌋) (a note on stderr says so).
 *
 * Output: rank 0's stdout unprefixed to `stdout`; everything else to `stderr`, each line prefixed `[rank N] `.
 * When a worker fails, one line names its rank and exit code or signal, followed by the last lines of its
 * stderr; the others get `graceMs` to exit by themselves, then SIGTERM, then (after `killTimeoutMs`) SIGKILL.
 * SIGINT and SIGTERM to this process are forwarded to every worker. Every wait after a failure is bounded;
 * while all workers run (or some already exited 0) launch() waits for them, as torchrun does.
 *
 * @example
 * ```ts
 * const code = await launch({ nprocPerNode: 2, argv: ['train', '--config', 'train.json'] });
 * process.exitCode = code;
 * ```
 */
export async function launch(options: LaunchOptions): Promise<number> {
  const r = resolveOptions(options);
  const omp = ompThreads(r);
  if (omp !== null) {
    r.stderr.write(`${NOTE}OMP_NUM_THREADS=${omp} for each of the ${r.nproc} ranks (${availableParallelism()} cores shared); set OMP_NUM_THREADS to choose\n`);
  }
  const workers: Worker[] = [];
  for (let local = 0; local < r.nproc; local++) workers.push(startWorker(r, local, omp));
  return supervise(r, workers);
}
