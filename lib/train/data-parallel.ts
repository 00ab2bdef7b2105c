/**
 * The Trainer's data-parallel pieces (HF's DDP behaviour, on lib/train/distributed.ts's process group):
 * joining the group of a launch, sharding the training set so that the ranks' k-th batches together are one
 * process's k-th batch of the global size, moving a resumed data position to another world size, and gathering
 * evaluation predictions from every rank.
 */
import type { Dataset } from '../data/dataset.js';
import type { LoaderState } from '../data/loader.js';
import type { DataItem } from '../data/types.js';
import type { CaptioningModel } from '../models/captioning-model.js';
import { distributed, type ProcessGroup } from './distributed.js';
import type { TrainingArguments } from './training-args.js';

/**
 * The group this fit() trains with: the one distributed.init() made, else (launched with WORLD_SIZE > 1) a new
 * one from the environment and the ddp_* arguments, which then stays the process's group (distributed.group()),
 * else null. A launch of one rank (torchrun --nproc-per-node 1) trains as one process, with no store to open.
 */
export async function joinGroup(args: TrainingArguments, model: CaptioningModel): Promise<ProcessGroup | null> {
  const existing = distributed.group();
  if (existing) return existing;
  const env = distributed.env();
  if (env.world_size < 2) return null;
  return distributed.init({
    backend: args.ddp_backend ?? (model.device.startsWith('cuda') ? 'nccl' : 'gloo'),
    local_rank: args.local_rank >= 0 ? args.local_rank : env.local_rank,
    timeout_ms: Math.round(args.ddp_timeout * 1000),
  });
}

/**
 * Rank r's part of the shuffled training set: items r, r+W, r+2W, ... of the epoch's order, so that the ranks'
 * k-th batches together are the k-th batch of one process with W times the batch. With a known size the epoch is
 * cut to a multiple of W first (at most W-1 items, other ones each epoch: PyTorch's DistributedSampler with
 * drop_last), so every rank takes the same number of steps.
 */
export async function shardForRank(ds: Dataset<DataItem>, group: ProcessGroup, note: (line: string) => void): Promise<Dataset<DataItem>> {
  const W = group.worldSize;
  const n = await ds.size();
  let even = ds;
  if (n !== undefined && n % W !== 0) {
    note(`Note: ${n} training items do not split evenly over ${W} ranks; each epoch leaves out ${n % W} (a different draw each epoch)`);
    even = ds.take(n - (n % W));
  }
  return even.shard(group.rank, W);
}

/**
 * A saved data position of a run with `fromWorld` ranks, for `toWorld` ranks: the same number of items of the
 * epoch's order consumed in all (rounded down to a whole item per rank).
 */
export function rescaleLoaderState(state: LoaderState, fromWorld: number, toWorld: number): LoaderState {
  if (fromWorld === toWorld) return state;
  const scale = (v: number): number => Math.floor((v * fromWorld) / toWorld);
  return { ...state, index: scale(state.index), batches: scale(state.batches), carry: 0 };
}

/** What one rank's evaluation produced: its rows in its shard's order, and its loss sum. */
export interface RankPredictions {
  predictions: string[];
  references: string[][];
  ids: string[];
  sequences: number[][];
  lossSum: number;
  rows: number;
  steps: number;
}

/**
 * Every rank's evaluation rows in the dataset's order (rank r evaluated items r, r+W, ...): each prediction
 * once. Every rank gets them and scores them, so callbacks that read the metrics decide alike everywhere.
 */
export async function gatherPredictions(group: ProcessGroup, mine: RankPredictions): Promise<RankPredictions> {
  const all = await group.allGatherObject(mine);
  const out: RankPredictions = { predictions: [], references: [], ids: [], sequences: [], lossSum: 0, rows: 0, steps: 0 };
  const longest = Math.max(...all.map((p) => p.ids.length));
  for (let k = 0; k < longest; k++) {
    for (const p of all) {
      if (k >= p.ids.length) continue;
      out.predictions.push(p.predictions[k]!);
      out.references.push(p.references[k]!);
      out.ids.push(p.ids[k]!);
      if (p.sequences.length) out.sequences.push(p.sequences[k]!);
    }
  }
  for (const p of all) {
    out.lossSum += p.lossSum;
    out.rows += p.rows;
    out.steps = Math.max(out.steps, p.steps);
  }
  return out;
}
