/**
 * pipeline('image-to-text', dirOrModel): images in, captions out, with the model's own ImageProcessor and
 * Tokenizer, as transformers' ImageToTextPipeline.
 */
import { InvalidArgumentError } from './errors.js';
import { VisionEncoderDecoder, type LoadOptions } from './models/vision-encoder-decoder.js';
import { resolveModelDir } from './models/hub.js';
import type { GenerateOptions } from './models/generation.js';
import { ImageProcessor, loadTokenizer, Tokenizer, type ImageInput } from './processing/index.js';
import type { CaptionTokenizer } from './types.js';

export interface ImageToTextOutput {
  generated_text: string;
}

export interface ImageToTextPipeline {
  (images: ImageInput | readonly ImageInput[], options?: Partial<GenerateOptions> & { batch_size?: number }): Promise<ImageToTextOutput[]>;
  readonly model: VisionEncoderDecoder;
  readonly imageProcessor: ImageProcessor;
  readonly tokenizer: CaptionTokenizer;
}

export interface PipelineOptions extends LoadOptions {
  imageProcessor?: ImageProcessor;
  tokenizer?: CaptionTokenizer;
}

export async function pipeline(task: 'image-to-text', model: string | VisionEncoderDecoder, opts: PipelineOptions = {}): Promise<ImageToTextPipeline> {
  if (task !== 'image-to-text') throw new InvalidArgumentError(`Expected task 'image-to-text' but received ${JSON.stringify(task)}`);
  let m: VisionEncoderDecoder;
  let dir: string | undefined;
  if (typeof model === 'string') {
    dir = await resolveModelDir(model, { revision: opts.revision });
    m = await VisionEncoderDecoder.fromPretrained(dir, opts);
  } else {
    m = model;
  }
  const imageProcessor = opts.imageProcessor ?? (m.imageProcessor instanceof ImageProcessor ? m.imageProcessor : undefined) ?? (dir ? await ImageProcessor.fromPretrained(dir) : undefined);
  // tokenizer.json of any kind the library writes (byte-level BPE, or the demo's word level)
  const tokenizer = opts.tokenizer ?? (m.tokenizer instanceof Tokenizer ? m.tokenizer : undefined) ?? (dir ? await loadTokenizer(dir) : undefined);
  if (!imageProcessor || !tokenizer) {
    throw new InvalidArgumentError('pipeline needs an image processor and a tokenizer: pass a model folder, or { imageProcessor, tokenizer }');
  }
  const run = async (images: ImageInput | readonly ImageInput[], options: Partial<GenerateOptions> & { batch_size?: number } = {}): Promise<ImageToTextOutput[]> => {
    const list = Array.isArray(images) ? (images as readonly ImageInput[]) : [images as ImageInput];
    const { batch_size = 8, ...gen } = options;
    const out: ImageToTextOutput[] = [];
    for (let i = 0; i < list.length; i += batch_size) {
      const pixels = await imageProcessor.preprocess(list.slice(i, i + batch_size));
      const { sequences } = await m.generate(pixels, gen);
      // generate merges the call options over the model's generation config; count sequences the same way.
      const perImage = ({ ...m.generationConfig, ...gen }.num_return_sequences ?? 1);
      for (let j = 0; j < sequences.length; j += perImage) {
        out.push({ generated_text: tokenizer.decode(sequences[j]!, { skip_special_tokens: true }).trim() });
      }
    }
    return out;
  };
  return Object.assign(run, { model: m, imageProcessor, tokenizer });
}
