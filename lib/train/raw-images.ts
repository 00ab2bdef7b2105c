/**
 * Raw-pixel support for an ImageProcessor: dataset items may carry decoded pixels ({data, width, height,
 * channels}, as the synthetic shapes set does) where ImageProcessor.preprocess takes paths and encoded bytes.
 * RGB pixels go straight to the same native resize + normalize the processor runs after decoding; other channel
 * counts are encoded to PNG (lossless) and decoded by the processor as usual.
 */
import sharp from 'sharp';
import { isRawImage, type ItemImage, type RawImage } from '../data/types.js';
import type { ImageProcessor } from '../processing/image-processor.js';
import { nativeProcessing } from '../processing/native-image.js';
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

  async #rawRgb(img: RawImage): Promise<{ data: Float32Array; height: number; width: number }> {
    const c = this.processor.config;
    const size = this.processor.outputSize(img.width, img.height);
    const data = await nativeProcessing().preprocessRgb(img.data, img.width, img.height, {
      outWidth: size.width,
      outHeight: size.height,
      filter: c.resample,
      doRescale: c.do_rescale,
      rescaleFactor: c.rescale_factor,
      doNormalize: c.do_normalize,
      mean: c.image_mean,
      std: c.image_std,
    });
    return { data, ...size };
  }

  async preprocess(inputs: ItemImage | ItemImage[]): Promise<Tensor> {
    const list = Array.isArray(inputs) ? inputs : [inputs];
    if (!list.some(isRawImage)) return this.processor.preprocess(list as (string | Uint8Array)[]);
    const parts: { data: Float32Array; height: number; width: number }[] = [];
    for (const input of list) {
      if (isRawImage(input) && input.channels === 3) {
        parts.push(await this.#rawRgb(input));
        continue;
      }
      const encoded = isRawImage(input)
        ? await sharp(Buffer.from(input.data.buffer, input.data.byteOffset, input.data.byteLength), { raw: { width: input.width, height: input.height, channels: input.channels } }).png().toBuffer()
        : input;
      const t = await this.processor.preprocess(encoded);
      parts.push({ data: t.data as Float32Array, height: t.shape[2]!, width: t.shape[3]! });
    }
    const { height, width } = parts[0]!;
    const out = new Float32Array(parts.length * 3 * height * width);
    parts.forEach((p, i) => out.set(p.data, i * 3 * height * width));
    return Tensor.from(out, [parts.length, 3, height, width]);
  }
}
