/**
 * Data-parallel process groups on PyTorch's c10d (the addon's ProcessGroup: a TCPStore rendezvous hosted by rank
 * 0, then Gloo on CPU or NCCL on CUDA). `distributed.init()` reads the torchrun environment (RANK, WORLD_SIZE,
 * LOCAL_RANK, MASTER_ADDR, MASTER_PORT), which `torch-caption train --nproc-per-node N` and `torchrun
 * --no-python` both set, and the Trainer uses the group it returns; it works on its own too:
 *
 * ```ts
 * const pg = await distributed.init({ backend: 'gloo' });
 * const sum = await pg.allReduce(Tensor.from(new Float32Array([pg.rank]), [1]), 'sum');
 * await pg.destroy();
 * ```
 *
 * Every rank must call the same collectives in the same order (await each one): a collective is matched with the
 * other ranks' by its position in that sequence. A failed collective (a rank exited, a connection broke) or
 * one that outlasts the timeout rejects with DistributedError on the surviving ranks.
 */
import { DistributedError, InvalidArgumentError } from '../errors.js';
import { native, type NativeProcessGroupHandle } from '../native.js';
import { Tensor } from '../tensor.js';
import { fromRaw, toRaw } from '../models/captioning-model.js';

export type DistributedBackend = 'gloo' | 'nccl';
export type ReduceOp = 'sum' | 'min' | 'max';

/** Where each field comes from when left out: the torchrun environment variable named. */
export interface DistributedInitOptions {
  /** Default: 'nccl' when `device` is CUDA, else 'gloo'. */
  backend?: DistributedBackend;
  /** RANK (default 0). */
  rank?: number;
  /** WORLD_SIZE (default 1). */
  world_size?: number;
  /** LOCAL_RANK (default: rank). With NCCL it picks this rank's GPU, cuda:LOCAL_RANK. */
  local_rank?: number;
  /** MASTER_ADDR (default 127.0.0.1): rank 0's machine, where the TCPStore listens. */
  master_addr?: string;
  /** MASTER_PORT (default 29500). */
  master_port?: number;
  /** How long rendezvous and each collective may take, in ms (default 30 minutes: HF's ddp_timeout of 1800 s). */
  timeout_ms?: number;
  /** 'cpu' or 'cuda' (default: 'cuda' when the backend is NCCL). */
  device?: string;
}

/** The torchrun variables of this process, read and checked. */
export interface DistributedEnv {
  rank: number;
  world_size: number;
  local_rank: number;
  local_world_size: number;
  /** GROUP_RANK (torchrun) or NODE_RANK: this machine's index among the nodes. */
  node_rank: number;
  master_addr: string;
  master_port: number;
}

const DEFAULT_TIMEOUT_MS = 30 * 60 * 1000;

function envInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`Expected a non-negative integer in the environment variable ${name} but received ${JSON.stringify(raw)}`);
  return n;
}

/**
 * The torchrun environment of this process, as `torch-caption train --nproc-per-node` and torchrun set it. Left out:
 * a single process (RANK 0 of WORLD_SIZE 1); LOCAL_RANK / LOCAL_WORLD_SIZE default to RANK / WORLD_SIZE (one node),
 * MASTER_ADDR to 127.0.0.1, MASTER_PORT to 29500. Malformed or inconsistent values throw InvalidArgumentError.
 */
export function distributedEnv(env: NodeJS.ProcessEnv = process.env): DistributedEnv {
  const set = (k: string): boolean => (env[k] ?? '') !== '';
  if (set('WORLD_SIZE') !== set('RANK')) throw new InvalidArgumentError(`Expected both RANK and WORLD_SIZE in the environment but only ${set('RANK') ? 'RANK' : 'WORLD_SIZE'} is set`);
  const rank = envInt(env, 'RANK', 0);
  const world_size = envInt(env, 'WORLD_SIZE', 1);
  const local_rank = envInt(env, 'LOCAL_RANK', rank);
  const local_world_size = envInt(env, 'LOCAL_WORLD_SIZE', world_size);
  const node_rank = envInt(env, 'GROUP_RANK', envInt(env, 'NODE_RANK', 0));
  const master_port = envInt(env, 'MASTER_PORT', 29500);
  if (world_size < 1 || rank >= world_size || local_rank >= local_world_size || local_world_size > world_size || master_port < 1 || master_port > 65535) {
    throw new InvalidArgumentError(
      `Inconsistent distributed environment: RANK=${rank} LOCAL_RANK=${local_rank} WORLD_SIZE=${world_size} LOCAL_WORLD_SIZE=${local_world_size} MASTER_PORT=${master_port}`,
    );
  }
  return { rank, world_size, local_rank, local_world_size, node_rank, master_addr: env.MASTER_ADDR || '127.0.0.1', master_port };
}

/** Whether this process was started as one rank of a launch (RANK and WORLD_SIZE set, e.g. by torchrun). */
export function isDistributedLaunch(env: NodeJS.ProcessEnv = process.env): boolean {
  return (env.RANK ?? '') !== '' || (env.WORLD_SIZE ?? '') !== '';
}

function checkInt(v: unknown, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new InvalidArgumentError(`Expected an integer in [${min}, ${max}] for ${name} but received ${JSON.stringify(v)}`);
  }
  return v;
}

/** One rank's handle on a c10d process group. */
export class ProcessGroup {
  /** @internal */
  readonly handle: NativeProcessGroupHandle;
  readonly rank: number;
  readonly worldSize: number;
  readonly localRank: number;
  readonly backend: DistributedBackend;
  /** Where collectives run: 'cpu' for Gloo, 'cuda:LOCAL_RANK' for NCCL. */
  readonly device: string;
  #destroyed = false;

  /** @internal Use distributed.init(). */
  constructor(handle: NativeProcessGroupHandle, info: { rank: number; worldSize: number; localRank: number; backend: DistributedBackend; device: string }) {
    this.handle = handle;
    this.rank = info.rank;
    this.worldSize = info.worldSize;
    this.localRank = info.localRank;
    this.backend = info.backend;
    this.device = info.device;
  }

  get isMain(): boolean {
    return this.rank === 0;
  }

  /** Waits until every rank has reached the same barrier. */
  async barrier(): Promise<void> {
    await this.#live().barrier();
  }

  /** Every rank's `tensor` reduced elementwise (sum, min or max); the input is not changed. */
  async allReduce(tensor: Tensor, op: ReduceOp = 'sum'): Promise<Tensor> {
    if (op !== 'sum' && op !== 'min' && op !== 'max') throw new InvalidArgumentError(`Expected reduce op 'sum', 'min' or 'max' but received ${JSON.stringify(op)}`);
    return fromRaw(await this.#live().allReduce(toRaw(tensor, 'allReduce tensor'), op));
  }

  /** Rank `root`'s tensor on every rank (each rank passes a tensor of the same shape and dtype). */
  async broadcast(tensor: Tensor, root = 0): Promise<Tensor> {
    checkInt(root, 'broadcast root', 0, this.worldSize - 1);
    return fromRaw(await this.#live().broadcast(toRaw(tensor, 'broadcast tensor'), root));
  }

  /** Every rank's tensor, in rank order (the same shape and dtype on every rank). */
  async allGather(tensor: Tensor): Promise<Tensor[]> {
    return (await this.#live().allGather(toRaw(tensor, 'allGather tensor'))).map(fromRaw);
  }

  /** Every rank's JSON-serializable value, in rank order (sizes may differ between ranks). */
  async allGatherObject<T>(value: T): Promise<T[]> {
    const bytes = Buffer.from(JSON.stringify(value) ?? 'null', 'utf8');
    const sizes = await this.allGather(Tensor.from(new Int32Array([bytes.length]), [1]));
    const lengths = sizes.map((t) => Number(t.data[0]));
    // Payloads travel as int32 words, padded to the longest rank's.
    const words = Math.ceil(Math.max(...lengths) / 4);
    const padded = new Uint8Array(words * 4);
    padded.set(bytes);
    const gathered = await this.allGather(Tensor.from(new Int32Array(padded.buffer), [words]));
    return gathered.map((t, r) => {
      const data = t.data as Int32Array;
      return JSON.parse(Buffer.from(data.buffer, data.byteOffset, lengths[r]).toString('utf8')) as T;
    });
  }

  /** Leaves the group after the collectives already queued (idempotent). */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    if (current === this) current = null;
    await this.handle.destroy();
  }

  #live(): NativeProcessGroupHandle {
    if (this.#destroyed) throw new DistributedError('This process group was destroyed; call distributed.init() again');
    return this.handle;
  }
}

let current: ProcessGroup | null = null;

function resolveOptions(opts: DistributedInitOptions) {
  const env = distributedEnv();
  const rank = checkInt(opts.rank ?? env.rank, 'rank', 0);
  const worldSize = checkInt(opts.world_size ?? env.world_size, 'world_size', 1);
  if (rank >= worldSize) throw new InvalidArgumentError(`Expected rank < world_size but received rank ${rank} of ${worldSize}`);
  const localRank = checkInt(opts.local_rank ?? (opts.rank !== undefined ? rank : env.local_rank), 'local_rank', 0);
  const backend = opts.backend ?? (opts.device?.startsWith('cuda') ? 'nccl' : 'gloo');
  if (backend !== 'gloo' && backend !== 'nccl') throw new InvalidArgumentError(`Expected backend 'gloo' or 'nccl' but received ${JSON.stringify(backend)}`);
  const available = native().buildInfo().distributedBackends;
  if (!available.includes(backend)) {
    throw new InvalidArgumentError(
      `The ${backend} backend is not in this build of torch-caption (it has: ${available.join(', ') || 'none'}). ` +
        (backend === 'nccl' ? 'NCCL needs a CUDA build (PyTorch 2.x libtorch with NCCL): use gloo on CPU.' : 'Install gloo\'s headers (apt-get install libgloo-dev) and rebuild (npm run build:native).'),
    );
  }
  const device = backend === 'nccl' ? `cuda:${localRank}` : 'cpu';
  const master_addr = opts.master_addr ?? env.master_addr;
  if (typeof master_addr !== 'string' || master_addr.length === 0) throw new InvalidArgumentError(`Expected a host name for master_addr but received ${JSON.stringify(master_addr)}`);
  const master_port = checkInt(opts.master_port ?? env.master_port, 'master_port', 1, 65535);
  const timeout_ms = checkInt(opts.timeout_ms ?? DEFAULT_TIMEOUT_MS, 'timeout_ms', 1);
  return { rank, worldSize, localRank, backend: backend as DistributedBackend, device, master_addr, master_port, timeout_ms };
}

/**
 * Joins the process group of this launch: rendezvous at MASTER_ADDR:MASTER_PORT (rank 0 hosts the store and
 * waits up to the timeout for the others), then the backend. One group per process at a time.
 */
async function init(opts: DistributedInitOptions = {}): Promise<ProcessGroup> {
  if (current) throw new InvalidArgumentError('distributed.init() was already called in this process; use distributed.group() or destroy() it first');
  const o = resolveOptions(opts);
  const handle = new (native().ProcessGroup)({
    rank: o.rank, world_size: o.worldSize, master_addr: o.master_addr, master_port: o.master_port, backend: o.backend, timeout_ms: o.timeout_ms, device: o.device,
  });
  const pg = new ProcessGroup(handle, o);
  current = pg;
  try {
    await handle.connect();
  } catch (err) {
    current = null;
    throw err;
  }
  return pg;
}

/** The group distributed.init() made in this process, or null. */
function group(): ProcessGroup | null {
  return current;
}

/** Process groups: init() from the torchrun environment, the current group, and the environment itself. */
export const distributed = Object.freeze({ init, group, env: distributedEnv, isLaunched: isDistributedLaunch });
