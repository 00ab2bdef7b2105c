/**
 * Raw-pixel support for an ImageProcessor: dataset items may carry decoded pixels ({data, width, height,
 * channels}, as the synthetic shapes set does); ImageProcessor.preprocess accepts them directly, so this
 * adapter only adds the CaptionImageProcessor shape (config and save of the wrapped processor).
 */
import type { ImageProcessor } from '../processing/image-processor.js';
import type { Tensor } from '../tensor.js';
import type { CaptionImageProcessor, ImageInput } from '../types.js';

export class RawImageSupport implements CaptionImageProcessor {
  constructor(readonly processor: ImageProcessor) {}

  get config(): ImageProcessor['config'] {
    return this.processor.config;
  }

  async save(dir: string): Promise<void> {
    await this.processor.save(dir);
  }

  /** ImageProcessor takes raw pixels itself: this wrapper passes every input through. */
  async preprocess(inputs: ImageInput | readonly ImageInput[]): Promise<Tensor> {
    return this.processor.preprocess(inputs);
  }
}
