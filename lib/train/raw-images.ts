/**
 * Raw-pixel support for an ImageProcessor: dataset items may carry decoded pixels ({data, width, height,
 * channels}, as the synthetic shapes set does); ImageProcessor.preprocess accepts them directly, so this
 * adapter only bridges the dataset's item type.
 */
import type { ItemImage } from '../data/types.js';
import type { ImageProcessor } from '../processing/image-processor.js';
import { Tensor } from '../tensor.js';
import type { CaptionImageProcessor } from './types.js';

export class RawImageSupport implements CaptionImageProcessor {
  constructor(readonly processor: ImageProcessor) {}

  get config(): ImageProcessor['config'] {
    return this.processor.config;
  }

  async save(dir: string): Promise<void> {
    await this.processor.save(dir);
  }

  /** ImageProcessor takes raw pixels itself; this wrapper only adapts the dataset item type. */
  async preprocess(inputs: ItemImage | ItemImage[]): Promise<Tensor> {
    return this.processor.preprocess(inputs as Parameters<ImageProcessor['preprocess']>[0]);
  }
}
