/**
 * pipeline('image-to-text', dirOrModel): images in, captions out, with the model's own ImageProcessor and
 * Tokenizer, as transformers' ImageToTextPipeline.
 *
 * Inputs are file paths, http(s) URLs (fetched under a byte limit and a timeout), encoded bytes or raw pixels.
 * Each image is fetched, decoded and preprocessed on its own, so that one bad image can fail its own entry
 * (errors: 'return') while the good ones of its batch are still generated together; the pixels of a batch's
 * good images are then stacked into one generate call.
 *
 * Only the loading lines below know the model class: the call itself uses the model's `generate` and
 * `generationConfig` (and `imageProcessor` / `tokenizer` when it carries them), so any captioner with those
 * can be passed.
 */
import { expected, FetchError, InvalidArgumentError, TorchCaptionError } from './errors.js';
import { Tensor } from './tensor.js';
import { AutoModelForVision2Seq, type CaptionModel } from './models/auto.js';
import type { LoadOptions, PromptTokenizer } from './models/captioning-model.js';
import { resolveModelDir } from './models/hub.js';
import { GENERATION_DEFAULTS, type GenerateOptions, type GenerateOutput } from './models/generation.js';
import { ImageProcessor, loadTokenizer, Tokenizer, type ImageInput } from './processing/index.js';
import { describeInput } from './processing/decode.js';
import { fetchImage, isImageUrl, resolveFetchOptions, type FetchImageOptions } from './processing/fetch-image.js';
import { isRawImage, type CaptionTokenizer } from './types.js';

export interface ImageToTextOutput {
  generated_text: string;
}

/** The entry of an image that could not be fetched, read or decoded (with `errors: 'return'`). */
export interface ImageToTextFailure {
  /** FetchError (URL), FormatError (cannot decode), InvalidArgumentError (unreadable file, too many pixels, bad raw pixels), ...; the message names the input. */
  error: TorchCaptionError;
}

/** What a call does with an image that fails: 'throw' rejects the call (the default), 'return' gives the image an `{ error }` entry. */
export type ImageToTextErrors = 'throw' | 'return';

/**
 * Options of a pipeline call. Generation options are taken flat (`{ num_beams: 4 }`) or, as Hugging Face
 * takes them, in `generate_kwargs` (`{ generate_kwargs: { num_beams: 4 } }`); a key may be given one way only.
 */
export interface ImageToTextCallOptions extends Partial<GenerateOptions> {
  /** Generation options as Hugging Face's pipeline takes them (same names as the flat ones). */
  generate_kwargs?: Partial<GenerateOptions>;
  /** Images per generate call (default 8). */
  batch_size?: number;
  /** 'throw' (default): the first image that fails rejects the call, naming its index. 'return': it gets an `{ error }` entry. */
  errors?: ImageToTextErrors;
  /** Hugging Face's `timeout`: the longest a URL download may take, in seconds (default 30). */
  timeout?: number;
  /** How URLs are fetched: maxBytes (default 20 MiB), timeoutMs, signal, headers. */
  fetch?: FetchImageOptions;
  /** Conditional captioning (GIT, BLIP): every caption continues this text, which stays at its start (HF's `prompt`). */
  prompt?: string;
}

/** One image's result: one entry per returned sequence, best first; with errors 'return', `[{ error }]` for an image that failed. */
export type ImageToTextSequences<E extends ImageToTextErrors = 'throw'> = E extends 'return' ? ImageToTextOutput[] | [ImageToTextFailure] : ImageToTextOutput[];

/** One image's entry in a flat list (its best sequence); with errors 'return', `{ error }` for an image that failed. */
export type ImageToTextEntry<E extends ImageToTextErrors = 'throw'> = E extends 'return' ? ImageToTextOutput | ImageToTextFailure : ImageToTextOutput;

/**
 * The result of a call on a list of images, from the num_return_sequences the call gives (N; undefined when it
 * gives none): a flat list (one entry per image) when N is 1 or not given, one list per image when N > 1, and
 * either when N is only known as a `number`.
 */
export type ImageToTextListOutput<E extends ImageToTextErrors, N extends number | undefined> =
  [Exclude<N, undefined | 1>] extends [never]
    ? ImageToTextEntry<E>[]
    : [Extract<N, undefined | 1>] extends [never]
      ? 1 extends N ? ImageToTextEntry<E>[] | ImageToTextSequences<E>[] : ImageToTextSequences<E>[]
      : ImageToTextEntry<E>[] | ImageToTextSequences<E>[];

/** The errors mode a call's options O give: 'throw' unless they say 'return' (both when only known as ImageToTextErrors). */
export type ImageToTextCallErrors<O> = O extends { errors?: infer E } ? (E extends 'return' ? 'return' : 'throw') : 'throw';

/**
 * The num_return_sequences a call's options O give: the flat option, else generate_kwargs' (undefined when they
 * give none; with undefined in the union when it may be left out).
 */
export type ImageToTextCallNrs<O> = 'num_return_sequences' extends keyof O
  ? [O['num_return_sequences' & keyof O]] extends [undefined] ? ImageToTextCallNrs<Omit<O, 'num_return_sequences'>> : O['num_return_sequences' & keyof O]
  : O extends { generate_kwargs?: infer G }
    ? G extends object ? ('num_return_sequences' extends keyof G ? G['num_return_sequences' & keyof G] : undefined) : undefined
    : undefined;

export interface ImageToTextPipeline {
  /** One image: one `{ generated_text }` per returned sequence (HF's ImageToTextPipeline on one image). */
  <const O extends ImageToTextCallOptions = {}>(image: ImageInput, options?: O): Promise<ImageToTextSequences<ImageToTextCallErrors<O>>>;
  /**
   * A list of images: one entry per image, in order. When the call asks for num_return_sequences > 1 (flat or in
   * generate_kwargs) each entry is that image's list of sequences, as HF returns them; otherwise it is the image's
   * `{ generated_text }` (its best sequence).
   */
  <const O extends ImageToTextCallOptions = {}>(images: readonly ImageInput[], options?: O): Promise<ImageToTextListOutput<ImageToTextCallErrors<O>, ImageToTextCallNrs<O>>>;
  /** An image or a list, not known which. */
  (images: ImageInput | readonly ImageInput[], options?: ImageToTextCallOptions): Promise<ImageToTextSequences<ImageToTextErrors> | ImageToTextListOutput<ImageToTextErrors, number>>;
  readonly model: CaptionModel;
  readonly imageProcessor: ImageProcessor;
  readonly tokenizer: CaptionTokenizer;
}

export interface PipelineOptions extends LoadOptions {
  imageProcessor?: ImageProcessor;
  tokenizer?: CaptionTokenizer;
}

/** What a call uses of a model: any captioner class with these works. */
interface GeneratingModel {
  generate(pixel_values: Tensor, options?: Partial<GenerateOptions> & { input_ids?: number[] }): Promise<GenerateOutput>;
  readonly generationConfig: Partial<GenerateOptions>;
  promptInputIds(tokenizer: PromptTokenizer, prompt: string): number[];
}

const CALL_KEYS = ['generate_kwargs', 'batch_size', 'errors', 'timeout', 'fetch', 'prompt'];
const GENERATION_KEYS: readonly string[] = [...Object.keys(GENERATION_DEFAULTS), 'max_new_tokens'];

function nearest(key: string, names: readonly string[]): string | undefined {
  const k = key.replace(/_/g, '').toLowerCase();
  return names.find((c) => c.replace(/_/g, '') === k || c.startsWith(key) || key.startsWith(c));
}

interface CallPlan {
  gen: Partial<GenerateOptions>;
  batchSize: number;
  errors: ImageToTextErrors;
  fetch: FetchImageOptions;
  /** num_return_sequences as the call gives it (not the model's generation config). */
  nrs: number | undefined;
  /** Conditional captioning (GIT, BLIP): the text every caption continues. */
  prompt: string | undefined;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !ArrayBuffer.isView(v);
}

/** Check every option before any image is touched; unknown keys fail naming the key. */
function planCall(options: unknown): CallPlan {
  if (options === undefined || options === null) return { gen: {}, batchSize: 8, errors: 'throw', fetch: resolveFetchOptions({}), nrs: undefined, prompt: undefined };
  if (!isPlainObject(options)) expected('an options object', 'the image-to-text call', options);
  const gen: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) {
    if (CALL_KEYS.includes(k)) continue;
    if (!GENERATION_KEYS.includes(k)) {
      const near = nearest(k, [...CALL_KEYS, ...GENERATION_KEYS]);
      throw new InvalidArgumentError(
        `Unknown image-to-text option '${k}'${near ? `; did you mean '${near}'?` : ''} (the call takes ${CALL_KEYS.join(', ')} and the generation options: ${GENERATION_KEYS.join(', ')})`,
      );
    }
    if (v !== undefined) gen[k] = v;
  }
  const { generate_kwargs: kwargs, batch_size: batchSize = 8, errors = 'throw', timeout, fetch = {}, prompt } = options as ImageToTextCallOptions;
  if (prompt !== undefined && (typeof prompt !== 'string' || prompt.length === 0)) expected('a non-empty string', 'prompt', prompt);
  if (kwargs !== undefined) {
    if (!isPlainObject(kwargs)) expected('an object of generation options', 'generate_kwargs', kwargs);
    for (const [k, v] of Object.entries(kwargs)) {
      if (!GENERATION_KEYS.includes(k)) {
        const near = nearest(k, GENERATION_KEYS);
        throw new InvalidArgumentError(`Unknown generation option '${k}' in generate_kwargs${near ? `; did you mean '${near}'?` : ''}`);
      }
      if (v === undefined) continue;
      if (k in gen) throw new InvalidArgumentError(`'${k}' is given both as an option and inside generate_kwargs; pass it one way only`);
      gen[k] = v;
    }
  }
  if (!Number.isInteger(batchSize) || batchSize < 1) expected('a positive integer', 'batch_size', batchSize);
  if (errors !== 'throw' && errors !== 'return') expected("'throw' or 'return'", 'errors', errors);
  if (!isPlainObject(fetch)) expected('an object', 'fetch options', fetch);
  let fetchOpts: FetchImageOptions = fetch;
  if (timeout !== undefined) {
    if (typeof timeout !== 'number' || !(timeout > 0) || !Number.isFinite(timeout)) expected('a positive number of seconds', 'timeout', timeout);
    if (fetch.timeoutMs !== undefined) throw new InvalidArgumentError('timeout (seconds) and fetch.timeoutMs (milliseconds) are both given; pass one');
    fetchOpts = { ...fetch, timeoutMs: timeout * 1000 };
  }
  resolveFetchOptions(fetchOpts); // checked now, before any download
  const nrs = gen.num_return_sequences;
  if (nrs !== undefined && (!Number.isInteger(nrs) || (nrs as number) < 1)) expected('a positive integer', 'num_return_sequences', nrs);
  return { gen: gen as Partial<GenerateOptions>, batchSize, errors, fetch: fetchOpts, nrs: nrs as number | undefined, prompt };
}

/**
 * The error of the image at `index`, of the same class, its message naming the input: the index, and the URL
 * for a fetched image (whose bytes the decoder only knows as a Buffer).
 */
function inputError(err: unknown, index: number, input: ImageInput, fetched: Uint8Array | null): TorchCaptionError {
  const where = `inputs[${index}]`;
  let msg = err instanceof Error ? err.message : String(err);
  if (fetched && typeof input === 'string') msg = msg.split(describeInput(fetched)).join(input);
  else if (input instanceof Uint8Array) msg = msg.split(describeInput(input)).join(describeInput(input).replace(/^image /, `${where} `));
  else if (isRawImage(input)) msg = msg.split('inputs[0]').join(where); // the processor saw it as a batch of one
  if (!msg.includes(where)) msg = `${where}: ${msg}`;
  if (err instanceof FetchError) return new FetchError(msg, { url: err.url, code: err.code, status: err.status, cause: err });
  if (err instanceof TorchCaptionError) {
    // The library's error classes take (message, { cause }); FetchError (above) is the one that takes more.
    const Same = err.constructor as new (message: string, options?: { cause?: unknown }) => TorchCaptionError;
    return new Same(msg, { cause: err });
  }
  return new TorchCaptionError(msg, { cause: err });
}

/** [1, C, H, W] tensors of one shape stacked into [N, C, H, W]. */
function stackPixels(items: readonly { index: number; pixels: Tensor }[]): Tensor {
  const first = items[0]!;
  if (items.length === 1) return first.pixels;
  const shape = first.pixels.shape;
  const per = first.pixels.size;
  const out = new Float32Array(per * items.length);
  items.forEach(({ index, pixels }, j) => {
    if (pixels.shape.join('x') !== shape.join('x')) {
      throw new InvalidArgumentError(
        `Expected images that preprocess to one size for a batch but inputs[${index}] became ${pixels.shape.slice(2).join('x')} ` +
          `and inputs[${first.index}] ${shape.slice(2).join('x')}; pass batch_size: 1, or give the processor a fixed {height, width} size`,
      );
    }
    out.set(pixels.data as Float32Array, j * per);
  });
  return Tensor.from(out, [items.length, ...shape.slice(1)]);
}

type Prepared = { index: number; pixels: Tensor } | { index: number; error: TorchCaptionError };

/**
 * `pipeline('image-to-text', dirOrModel)`: a folder (or hub id) loads with the class its config.json's model_type
 * names (VisionEncoderDecoder, GitForCausalLM, BlipForConditionalGeneration), and its image processor and
 * tokenizer from the same folder, as transformers' AutoProcessor does.
 */
export async function pipeline(task: 'image-to-text', model: string | CaptionModel, opts: PipelineOptions = {}): Promise<ImageToTextPipeline> {
  if (task !== 'image-to-text') throw new InvalidArgumentError(`Expected task 'image-to-text' but received ${JSON.stringify(task)}`);
  let m: CaptionModel;
  let dir: string | undefined;
  if (typeof model === 'string') {
    dir = await resolveModelDir(model, { revision: opts.revision });
    m = await AutoModelForVision2Seq.fromPretrained(dir, opts);
  } else {
    m = model;
  }
  const imageProcessor = opts.imageProcessor ?? (m.imageProcessor instanceof ImageProcessor ? m.imageProcessor : undefined) ?? (dir ? await ImageProcessor.fromPretrained(dir) : undefined);
  // tokenizer.json of any kind the library writes (byte-level BPE, or the demo's word level)
  const tokenizer = opts.tokenizer ?? (m.tokenizer instanceof Tokenizer ? m.tokenizer : undefined) ?? (dir ? await loadTokenizer(dir) : undefined);
  if (!imageProcessor || !tokenizer) {
    throw new InvalidArgumentError('pipeline needs an image processor and a tokenizer: pass a model folder, or { imageProcessor, tokenizer }');
  }
  const run = captionCall(m, imageProcessor, tokenizer);
  return Object.assign(run, { model: m, imageProcessor, tokenizer }) as ImageToTextPipeline;
}

type AnyResult = ImageToTextSequences<ImageToTextErrors> | ImageToTextListOutput<ImageToTextErrors, number>;

/** The call: fetch / read / decode each image on its own, generate each batch's good images together, decode the tokens. */
function captionCall(
  m: GeneratingModel,
  imageProcessor: Pick<ImageProcessor, 'preprocess'>,
  tokenizer: Pick<CaptionTokenizer, 'decode'> & PromptTokenizer,
): (images: ImageInput | readonly ImageInput[], options?: ImageToTextCallOptions) => Promise<AnyResult> {
  return async (images, options) => {
    const single = !Array.isArray(images);
    const list: readonly ImageInput[] = single ? [images as ImageInput] : (images as readonly ImageInput[]);
    list.forEach((x, i) => {
      if (typeof x !== 'string' && !(x instanceof Uint8Array) && !isRawImage(x)) {
        expected('a file path, an http(s) URL, a Buffer, a Uint8Array or raw pixels {data, width, height, channels}', `inputs[${i}]`, x);
      }
    });
    const plan = planCall(options);
    // HF's image-to-text pipeline: the prompt's ids as the model's generate takes them (refused by models
    // without conditional captioning), before any image is fetched.
    const promptIds = plan.prompt !== undefined ? m.promptInputIds(tokenizer, plan.prompt) : undefined;
    // Stops the downloads still running when the call ends early (a failure with errors 'throw', a generate error).
    const stop = new AbortController();
    const userSignal = plan.fetch.signal;
    const onUserAbort = (): void => stop.abort(userSignal?.reason);
    if (userSignal?.aborted) onUserAbort();
    userSignal?.addEventListener('abort', onUserAbort, { once: true });
    const fetchOpts: FetchImageOptions = { ...plan.fetch, signal: stop.signal };

    const prepareOne = async (input: ImageInput, index: number): Promise<Prepared> => {
      let fetched: Buffer | null = null;
      try {
        if (isImageUrl(input)) fetched = await fetchImage(input, fetchOpts);
        return { index, pixels: await imageProcessor.preprocess(fetched ?? input) };
      } catch (err) {
        return { index, error: inputError(err, index, input, fetched) };
      }
    };
    // Never rejects: a failure is the image's own entry until the plan says to throw it.
    const prepare = (start: number): Promise<Prepared[]> =>
      Promise.all(list.slice(start, start + plan.batchSize).map((input, j) => prepareOne(input, start + j)));

    const results: (ImageToTextOutput[] | [ImageToTextFailure])[] = [];
    try {
      let next: Promise<Prepared[]> | null = list.length ? prepare(0) : null;
      for (let start = 0; next; start += plan.batchSize) {
        const batch: Prepared[] = await next;
        // The next batch is fetched and decoded while this one generates.
        next = start + plan.batchSize < list.length ? prepare(start + plan.batchSize) : null;
        const failed = batch.filter((p): p is Extract<Prepared, { error: TorchCaptionError }> => 'error' in p);
        if (failed.length && plan.errors === 'throw') throw failed[0]!.error;
        const good = batch.filter((p): p is Extract<Prepared, { pixels: Tensor }> => 'pixels' in p);
        let texts: string[][] = [];
        if (good.length) {
          const { sequences } = await m.generate(stackPixels(good), { ...plan.gen, ...(promptIds ? { input_ids: promptIds } : {}) });
          const per = sequences.length / good.length;
          if (!Number.isInteger(per) || per < 1) throw new TorchCaptionError(`generate returned ${sequences.length} sequences for ${good.length} images`);
          texts = good.map((_, j) => sequences.slice(j * per, (j + 1) * per).map((s) => tokenizer.decode(s, { skip_special_tokens: true }).trim()));
        }
        let g = 0;
        for (const p of batch) {
          results.push('error' in p ? [{ error: p.error }] : texts[g++]!.map((generated_text) => ({ generated_text })));
        }
      }
    } finally {
      userSignal?.removeEventListener('abort', onUserAbort);
      stop.abort();
    }
    if (single) return results[0]!;
    // HF nests per image when it returns several sequences; a flat list (each image's best) otherwise, as before.
    if (plan.nrs !== undefined && plan.nrs > 1) return results;
    return results.map((r) => r[0]!);
  };
}
