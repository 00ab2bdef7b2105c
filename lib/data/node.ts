/**
 * The pipeline-stage interfaces shared by dataset.ts (which builds pipelines of nodes) and loader.ts (which
 * reads one). They live here so that neither of those two modules imports the other's types: dataset.ts
 * imports loader.ts (Dataset.batches() makes a DataLoader), and loader.ts imports only this module.
 */

/** Per-iteration context: the epoch decides shuffle orders. */
export interface IterationContext {
  readonly epoch: number;
}

/** Random access to one epoch's items. */
export interface RandomAccess<T> {
  readonly length: number;
  get(index: number): Promise<T>;
}

/** A JSON value: what a stream cursor holds (it travels in LoaderState, which checkpoints store as JSON). */
export type CursorValue = string | number | boolean | null | readonly CursorValue[] | { readonly [key: string]: CursorValue };

/**
 * Where a node's stream stands at one position of one epoch, in the node's own terms (a WebDataset
 * source: which tar shard, and how many samples into it). Opaque to everyone but the node that made it.
 */
export type StreamCursor = { readonly [key: string]: CursorValue };

/**
 * One stage of a pipeline. Implement this to write a custom source: `stream` must yield the items
 * from position `start` on (0-based, in this node's order for `ctx.epoch`); `access` returns random
 * access for the epoch or null; `size` the number of items when known without reading them all.
 *
 * Two optional hooks let a streaming source do better than the generic behaviour:
 *
 * - `shard(rank, world)`: this node's share for `rank` of `world` ranks, as a node of its own, when the
 *   node can split itself more cheaply than the generic striding (which keeps positions i with
 *   i % world === rank and so reads every item on every rank); e.g. a WebDataset source hands each rank
 *   whole tar files. Return undefined to get the striding. The shares of the ranks must be disjoint and
 *   together hold every item. `Dataset.shard` asks the node first. Ops whose output does not depend on
 *   which other items they see (map, with_transform, filter, split, shuffle) pass the call on to their
 *   parent and wrap its share, so `ds.shuffle(...).shard(r, w)` still splits by file (each rank then
 *   shuffles its own share; the `index` argument of map/filter becomes the position in that share).
 * - `cursor(ctx, position)` and `stream`'s `cursor` argument: a resume point. `cursor` returns a
 *   JSON-serializable StreamCursor for `position` of epoch `ctx.epoch`, or undefined when the node
 *   cannot say (it has not streamed that far, or a cursor would be no faster than reading from the
 *   start); the DataLoader stores it in its state(). A later `stream(ctx, position, cursor)` (same
 *   epoch and position, possibly in another process) may use it to start there without reading the
 *   items before it; a node ignores a cursor it does not recognize or that is for another position.
 *   Ops that keep positions one to one (map, with_transform, take) or shift/stride them (skip, the
 *   generic shard) translate the position and pass both calls on; ops that reorder a stream or drop
 *   items (shuffle and filter over a stream, split) give no cursor, and resuming them reads from their
 *   parent's start as before.
 */
export interface DatasetNode<T> {
  access(ctx: IterationContext): Promise<RandomAccess<T> | null>;
  stream(ctx: IterationContext, start: number, cursor?: StreamCursor): AsyncGenerator<T, void, undefined>;
  size(ctx: IterationContext): Promise<number | undefined>;
  shard?(rank: number, world: number): DatasetNode<T> | undefined;
  cursor?(ctx: IterationContext, position: number): StreamCursor | undefined;
}

/** What a DataLoader reads: a Dataset, or anything else with its pipeline node and size(). */
export interface BatchSource<T> {
  /** The pipeline stage behind the dataset. */
  readonly node: DatasetNode<T>;
  /** Number of items of an epoch when known without reading them. */
  size(options?: { epoch?: number }): Promise<number | undefined>;
}
