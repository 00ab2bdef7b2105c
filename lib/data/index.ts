/**
 * Datasets: sources -> streaming ops -> batches. See docs/data.md.
 *
 * ```ts
 * const ds = datasets.coco({ annotations: 'captions_train2017.json', images: 'train2017' });
 * const { train, test } = ds.split({ test_size: 0.05, seed: 1 });
 * const loader = train.shuffle({ seed: 1 }).batches({ batch_size: 32, max_length: 32, imageProcessor, tokenizer });
 * for await (const { pixel_values, labels } of loader) await model.backward({ pixel_values, labels });
 * ```
 */
import { Dataset } from './dataset.js';
import { coco, karpathy } from './sources/coco.js';
import { csv, imageFolder, jsonl } from './sources/manifests.js';
import { parquet } from './sources/parquet.js';
import { webdataset } from './sources/webdataset.js';
import { synthetic } from './synthetic.js';
import type { DataItem } from './types.js';

function fromItems<T extends DataItem>(items: readonly T[]): Dataset<T> {
  return Dataset.fromItems(items);
}

/** Dataset sources. */
export const datasets = Object.freeze({
  coco,
  karpathy,
  jsonl,
  csv,
  imageFolder,
  parquet,
  webdataset,
  synthetic,
  fromItems,
});

export { Dataset, isTestId } from './dataset.js';
export type { IterateOptions, ShuffleOptions, SplitOptions } from './dataset.js';
export type { BatchSource, CursorValue, DatasetNode, IterationContext, RandomAccess, StreamCursor } from './node.js';
export { DataLoader, DataQualityError, classifyImageError } from './loader.js';
export type {
  Batch, BatchesOptions, CaptionSampling, EpochReport, ImagePreprocessor, LoaderState, LoaderStats,
} from './loader.js';
export {
  SyntheticDataset, generateScene, renderScene, sceneCaptions, SHAPE_COLORS, SHAPE_KINDS, DEFAULT_COLORS, DEFAULT_SHAPES,
} from './synthetic.js';
export type { ResolvedSyntheticOptions, Scene, SceneLayout, Shape, ShapeKind, ShapeSize, SyntheticItem, SyntheticOptions } from './synthetic.js';
export type { CocoOptions, KarpathyOptions, KarpathySplit } from './sources/coco.js';
export type { CsvOptions, ImageFolderOptions, JsonlOptions } from './sources/manifests.js';
export type { ParquetOptions } from './sources/parquet.js';
export type { WebDatasetOptions } from './sources/webdataset.js';
export { isRawImage } from './types.js';
export type { DataItem, ItemImage, RawImage } from './types.js';
export { normalizeCaption } from './text.js';
