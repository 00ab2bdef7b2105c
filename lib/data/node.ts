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

/**
 * One stage of a pipeline. Implement this to write a custom source: `stream` must yield the items
 * from position `start` on (0-based, in this node's order for `ctx.epoch`); `access` returns random
 * access for the epoch or null; `size` the number of items when known without reading them all.
 */
export interface DatasetNode<T> {
  access(ctx: IterationContext): Promise<RandomAccess<T> | null>;
  stream(ctx: IterationContext, start: number): AsyncGenerator<T, void, undefined>;
  size(ctx: IterationContext): Promise<number | undefined>;
}

/** What a DataLoader reads: a Dataset, or anything else with its pipeline node and size(). */
export interface BatchSource<T> {
  /** The pipeline stage behind the dataset. */
  readonly node: DatasetNode<T>;
  /** Number of items of an epoch when known without reading them. */
  size(options?: { epoch?: number }): Promise<number | undefined>;
}
