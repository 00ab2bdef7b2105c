/**
 * ImageProcessor: Hugging Face ViTImageProcessor / ViTFeatureExtractor semantics on sharp, and the DeiT, BEiT,
 * CLIP and BLIP image processors (the same steps, with a centre crop for DeiT, BEiT and CLIP, and their own defaults).
 *
 * preprocess(): decode (PIL `convert('RGB')` semantics, or transformers' `convert_to_rgb` when the config sets
 * do_convert_rgb; see decode.ts) -> resize -> centre crop (when do_center_crop) -> rescale -> normalize ->
 * float32 [B, 3, H, W]. The default 'exact' path resizes with a port of Pillow's Resample.c in the native
 * addon and matches the Python reference bit for bit; 'fast' resizes with sharp (libvips) kernels instead.
 */
import { cpus } from 'node:os';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expected, FormatError, InvalidArgumentError, UnsupportedConfigError } from '../errors.js';
import { Tensor } from '../tensor.js';
import { isRawImage, type ImageInput, type ImageSource, type RawImage } from '../types.js';
import {
  compositeOverWhite, decodeResizedFast, decodeRgb, DEFAULT_LIMIT_INPUT_PIXELS, describeInput, type DecodeOptions, type ResizeKernel, type RgbImage,
} from './decode.js';
import { nativeProcessing } from './native-image.js';

/** PIL resampling filters: 0 NEAREST, 1 LANCZOS, 2 BILINEAR, 3 BICUBIC, 4 BOX, 5 HAMMING. */
export type PilResample = 0 | 1 | 2 | 3 | 4 | 5;

export const PIL_RESAMPLE_NAMES: Readonly<Record<PilResample, string>> = Object.freeze({
  0: 'NEAREST',
  1: 'LANCZOS',
  2: 'BILINEAR',
  3: 'BICUBIC',
  4: 'BOX',
  5: 'HAMMING',
});

/** Target size: exact height x width, or the shortest edge (aspect ratio kept, as HF `shortest_edge`). */
export type ImageSize = { height: number; width: number } | { shortest_edge: number };

/** The preprocessor_config.json fields this processor uses (Hugging Face names). */
export interface ImageProcessorConfig {
  do_resize: boolean;
  size: ImageSize;
  resample: PilResample;
  do_rescale: boolean;
  rescale_factor: number;
  do_normalize: boolean;
  image_mean: [number, number, number];
  image_std: [number, number, number];
  /**
   * true: transformers' convert_to_rgb (alpha composited over white); false / null: PIL convert('RGB') (alpha
   * dropped). Either way images come out as RGB (3 channels).
   */
  do_convert_rgb: boolean | null;
  /** Centre crop after the resize (DeiT, BEiT, CLIP processors); present when the processor type has one or the config says. */
  do_center_crop?: boolean;
  crop_size?: { height: number; width: number };
}

/** What fromConfig() accepts: any subset, with HF's spellings (size may be an int; mean/std a single number). */
export interface ImageProcessorConfigInput {
  do_resize?: boolean;
  size?: number | ImageSize | readonly [number, number];
  resample?: number;
  do_rescale?: boolean;
  rescale_factor?: number;
  do_normalize?: boolean;
  image_mean?: number | readonly number[];
  image_std?: number | readonly number[];
  do_convert_rgb?: boolean | null;
  do_center_crop?: boolean;
  crop_size?: number | { height: number; width: number };
  image_processor_type?: string;
  feature_extractor_type?: string;
  [key: string]: unknown;
}

/** JS-only options (constructor defaults, overridable per preprocess() call). */
export interface PreprocessOptions {
  /**
   * Which resize implementation runs the config's filter.
   * 'exact' (default): Pillow's resampling ported to C++, bit-identical to the Python reference.
   * 'fast': sharp's own resize kernels (linear for BILINEAR, cubic for BICUBIC, ...), within a fraction of a
   * uint8 level of the reference (see docs/processing.md for the measured errors).
   */
  resizer?: Resizer;
  /**
   * As in Hugging Face's `processor(images, resample=...)`: a PIL filter number (0 NEAREST, 1 LANCZOS,
   * 2 BILINEAR, 3 BICUBIC, 4 BOX, 5 HAMMING) used instead of the config's.
   */
  resample?: PilResample;
  /** Apply EXIF orientation before resizing. Default false (PIL and Hugging Face ignore it). */
  autoOrient?: boolean;
  /** Refuse images with more pixels than this; false for no limit. Default 268402689 (sharp's default). */
  limitInputPixels?: number | false;
  /** Images decoded and resized at the same time. Default: the number of CPU cores. */
  concurrency?: number;
}

/** The processor families: their HF class names and the defaults of the keys a config may leave out. */
interface ProcessorFamily {
  image_processor_type: string;
  /** null where transformers has no feature-extractor class for it (BLIP). */
  feature_extractor_type: string | null;
  types: readonly string[];
  /**
   * How an int `size` reads (transformers' get_size_dict default_to_square): true {height: n, width: n}; false
   * {shortest_edge: n} (CLIP).
   */
  sizeIntIsSquare: boolean;
  /** Only {height, width} sizes (BLIP's resize refuses a shortest_edge). */
  fixedSizeOnly?: boolean;
  defaults: Omit<ImageProcessorConfig, 'do_rescale' | 'rescale_factor' | 'do_normalize' | 'do_resize'>;
}

const IMAGENET_DEFAULT_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
const IMAGENET_DEFAULT_STD: [number, number, number] = [0.229, 0.224, 0.225];
const OPENAI_CLIP_MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
const OPENAI_CLIP_STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

const FAMILIES: readonly ProcessorFamily[] = [
  {
    image_processor_type: 'ViTImageProcessor', feature_extractor_type: 'ViTFeatureExtractor', types: ['ViTImageProcessor', 'ViTImageProcessorFast', 'ViTFeatureExtractor'], sizeIntIsSquare: true,
    defaults: { size: { height: 224, width: 224 }, resample: 2, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5], do_convert_rgb: null },
  },
  {
    image_processor_type: 'DeiTImageProcessor', feature_extractor_type: 'DeiTFeatureExtractor', types: ['DeiTImageProcessor', 'DeiTImageProcessorFast', 'DeiTFeatureExtractor'], sizeIntIsSquare: true,
    defaults: { size: { height: 256, width: 256 }, resample: 3, image_mean: IMAGENET_DEFAULT_MEAN, image_std: IMAGENET_DEFAULT_STD, do_convert_rgb: null, do_center_crop: true, crop_size: { height: 224, width: 224 } },
  },
  {
    image_processor_type: 'BeitImageProcessor', feature_extractor_type: 'BeitFeatureExtractor', types: ['BeitImageProcessor', 'BeitImageProcessorFast', 'BeitFeatureExtractor'], sizeIntIsSquare: true,
    defaults: { size: { height: 256, width: 256 }, resample: 3, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5], do_convert_rgb: null, do_center_crop: true, crop_size: { height: 224, width: 224 } },
  },
  {
    // An int size is the shortest edge (CLIPImageProcessor: get_size_dict(size, default_to_square=False)), as in
    // the older hub configs that say "size": 224.
    image_processor_type: 'CLIPImageProcessor', feature_extractor_type: 'CLIPFeatureExtractor', types: ['CLIPImageProcessor', 'CLIPImageProcessorFast', 'CLIPFeatureExtractor'], sizeIntIsSquare: false,
    defaults: { size: { shortest_edge: 224 }, resample: 3, image_mean: OPENAI_CLIP_MEAN, image_std: OPENAI_CLIP_STD, do_convert_rgb: true, do_center_crop: true, crop_size: { height: 224, width: 224 } },
  },
  {
    // BlipImageProcessor: a fixed (height, width) resize, aspect ratio not kept, no crop; transformers has no
    // BLIP feature extractor.
    image_processor_type: 'BlipImageProcessor', feature_extractor_type: null, types: ['BlipImageProcessor', 'BlipImageProcessorFast'], sizeIntIsSquare: true, fixedSizeOnly: true,
    defaults: { size: { height: 384, width: 384 }, resample: 3, image_mean: OPENAI_CLIP_MEAN, image_std: OPENAI_CLIP_STD, do_convert_rgb: true },
  },
];
const VIT_FAMILY = FAMILIES[0]!;

function processorFamily(obj: ImageProcessorConfigInput, source: string): ProcessorFamily {
  const type = obj.image_processor_type ?? obj.feature_extractor_type;
  if (type === undefined || type === null) return VIT_FAMILY;
  if (typeof type !== 'string') expected('a string', 'image_processor_type', type);
  const family = FAMILIES.find((f) => f.types.includes(type));
  if (!family) {
    throw new UnsupportedConfigError(
      `image_processor_type "${type}" in ${source} is not supported: the implemented processors are ` +
        `${FAMILIES.flatMap((f) => f.types).join(', ')} (resize, centre crop, rescale, normalize)`,
    );
  }
  return family;
}

const OWN_KEYS = new Set([
  'do_resize', 'size', 'resample', 'do_rescale', 'rescale_factor', 'do_normalize', 'image_mean', 'image_std',
  'do_convert_rgb', 'do_center_crop', 'crop_size', 'image_processor_type', 'feature_extractor_type',
]);

/** sharp kernels used by the 'fast' path for each PIL filter. */
const FAST_KERNELS: Readonly<Record<PilResample, ResizeKernel>> = {
  0: 'nearest',
  1: 'lanczos3',
  2: 'linear',
  3: 'cubic',
  4: 'linear',
  5: 'lanczos2',
};

const DEFAULT_CONFIG: ImageProcessorConfig = {
  do_resize: true,
  size: { height: 224, width: 224 },
  resample: 2,
  do_rescale: true,
  rescale_factor: 1 / 255,
  do_normalize: true,
  image_mean: [0.5, 0.5, 0.5],
  image_std: [0.5, 0.5, 0.5],
  do_convert_rgb: null,
};

function isPositiveInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}

function parseBool(v: unknown, name: string, fallback: boolean): boolean {
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') expected('a boolean', name, v);
  return v;
}

function parseTriple(v: unknown, name: string, fallback: [number, number, number]): [number, number, number] {
  if (v === undefined || v === null) return [...fallback];
  if (typeof v === 'number' && Number.isFinite(v)) return [v, v, v];
  if (Array.isArray(v) && v.length === 1 && typeof v[0] === 'number' && Number.isFinite(v[0])) return [v[0], v[0], v[0]];
  if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    expected('3 finite numbers (one per RGB channel)', name, v);
  }
  return [v[0] as number, v[1] as number, v[2] as number];
}

function parseCropSize(v: unknown, fallback: { height: number; width: number }): { height: number; width: number } {
  if (v === undefined || v === null) return { ...fallback };
  if (isPositiveInt(v)) return { height: v, width: v };
  const o = v as Record<string, unknown>;
  if (typeof v === 'object' && !Array.isArray(v) && isPositiveInt(o.height) && isPositiveInt(o.width)) return { height: o.height, width: o.width };
  return expected('a positive integer or {height, width}', 'crop_size', v);
}

function parseSize(v: unknown, fallback: ImageSize = DEFAULT_CONFIG.size, intIsSquare = true): ImageSize {
  if (v === undefined || v === null) return { ...fallback } as ImageSize;
  if (isPositiveInt(v)) return intIsSquare ? { height: v, width: v } : { shortest_edge: v };
  if (Array.isArray(v)) {
    // A pair is (height, width), as transformers' get_size_dict reads it.
    if (v.length === 2 && isPositiveInt(v[0]) && isPositiveInt(v[1])) return { height: v[0], width: v[1] };
    expected('a positive integer, {height, width}, {shortest_edge} or [height, width]', 'size', v);
  }
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if ('shortest_edge' in o && o.height === undefined && o.width === undefined) {
      if (!isPositiveInt(o.shortest_edge)) expected('a positive integer', 'size.shortest_edge', o.shortest_edge);
      if (o.longest_edge !== undefined) {
        throw new UnsupportedConfigError(`size.longest_edge is not supported (received ${JSON.stringify(v)}); use {height, width} or {shortest_edge}`);
      }
      return { shortest_edge: o.shortest_edge };
    }
    if (isPositiveInt(o.height) && isPositiveInt(o.width)) return { height: o.height, width: o.width };
  }
  return expected('a positive integer, {height, width}, {shortest_edge} or [height, width]', 'size', v);
}

/** Validate and normalize a preprocessor config (HF keys). Unknown keys are ignored here. */
export function parseImageProcessorConfig(obj: ImageProcessorConfigInput, source = 'config'): ImageProcessorConfig {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) expected('an object', source, obj);
  const family = processorFamily(obj, source);
  const fam = family.defaults;
  const resample = obj.resample ?? fam.resample;
  if (typeof resample !== 'number' || !Number.isInteger(resample) || resample < 0 || resample > 5) {
    expected('a PIL resampling filter 0..5 (0 NEAREST, 1 LANCZOS, 2 BILINEAR, 3 BICUBIC, 4 BOX, 5 HAMMING)', 'resample', resample);
  }
  const rescale = obj.rescale_factor ?? DEFAULT_CONFIG.rescale_factor;
  if (typeof rescale !== 'number' || !Number.isFinite(rescale)) expected('a finite number', 'rescale_factor', rescale);
  const std = parseTriple(obj.image_std, 'image_std', fam.image_std);
  if (std.some((s) => s === 0)) expected('non-zero standard deviations', 'image_std', obj.image_std);
  const convert = obj.do_convert_rgb;
  if (convert !== undefined && convert !== null && typeof convert !== 'boolean') expected('a boolean or null', 'do_convert_rgb', convert);
  const out: ImageProcessorConfig = {
    do_resize: parseBool(obj.do_resize, 'do_resize', DEFAULT_CONFIG.do_resize),
    size: parseSize(obj.size, fam.size, family.sizeIntIsSquare),
    resample: resample as PilResample,
    do_rescale: parseBool(obj.do_rescale, 'do_rescale', DEFAULT_CONFIG.do_rescale),
    rescale_factor: rescale,
    do_normalize: parseBool(obj.do_normalize, 'do_normalize', DEFAULT_CONFIG.do_normalize),
    image_mean: parseTriple(obj.image_mean, 'image_mean', fam.image_mean),
    image_std: std,
    do_convert_rgb: convert ?? fam.do_convert_rgb,
  };
  if (family.fixedSizeOnly && 'shortest_edge' in out.size) {
    throw new UnsupportedConfigError(
      `${family.image_processor_type} in ${source} resizes to a fixed {height, width}, as transformers' does; size ${JSON.stringify(obj.size)} has no height and width`,
    );
  }
  // The crop keys exist for processors that have them (and for configs that name them).
  if (fam.do_center_crop !== undefined || obj.do_center_crop !== undefined || obj.crop_size !== undefined) {
    out.do_center_crop = parseBool(obj.do_center_crop, 'do_center_crop', fam.do_center_crop ?? false);
    out.crop_size = parseCropSize(obj.crop_size, fam.crop_size ?? { height: 224, width: 224 });
  }
  return out;
}

/** The resize implementation: Pillow-exact C++ or sharp's kernels. */
export type Resizer = 'exact' | 'fast';

interface ResolvedOptions {
  resizer: Resizer;
  /** A per-call PIL filter instead of the config's (HF's resample argument); null: the config's. */
  filter: PilResample | null;
  autoOrient: boolean;
  limitInputPixels: number | false;
  concurrency: number;
}

function resolveOptions(base: ResolvedOptions, opts: PreprocessOptions | undefined, name: string): ResolvedOptions {
  if (opts === undefined) return base;
  if (opts === null || typeof opts !== 'object') expected('an options object', name, opts);
  const out = { ...base };
  if (opts.resizer !== undefined) {
    if (opts.resizer !== 'exact' && opts.resizer !== 'fast') expected("'exact' or 'fast'", `${name}.resizer`, opts.resizer);
    out.resizer = opts.resizer;
  }
  const r: unknown = opts.resample;
  if (r === 'exact' || r === 'fast') {
    // An unreleased spelling: say where the choice went instead of accepting it.
    throw new InvalidArgumentError(`${name}.resample is '${r}': that is the old spelling of resizer, which takes it now; pass resizer: '${r}' (keep resizer for the implementation, resample for a PIL filter)`);
  } else if (r !== undefined) {
    if (typeof r !== 'number' || !Number.isInteger(r) || r < 0 || r > 5) {
      expected("a PIL resampling filter 0..5 (0 NEAREST, 1 LANCZOS, 2 BILINEAR, 3 BICUBIC, 4 BOX, 5 HAMMING), or resizer 'exact' | 'fast'", `${name}.resample`, r);
    }
    out.filter = r as PilResample;
  }
  if (opts.autoOrient !== undefined) out.autoOrient = parseBool(opts.autoOrient, `${name}.autoOrient`, false);
  if (opts.limitInputPixels !== undefined) {
    const l = opts.limitInputPixels;
    if (l !== false && !isPositiveInt(l)) expected('a positive integer or false', `${name}.limitInputPixels`, l);
    out.limitInputPixels = l;
  }
  if (opts.concurrency !== undefined) {
    if (!isPositiveInt(opts.concurrency)) expected('a positive integer', `${name}.concurrency`, opts.concurrency);
    out.concurrency = opts.concurrency;
  }
  return out;
}

/** Run fn over items with at most `limit` in flight; results in input order; the first error wins. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!, i);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** HF get_resize_output_image_size(default_to_square=False): the short side becomes `edge`. */
function shortestEdgeSize(width: number, height: number, edge: number): { height: number; width: number } {
  const [short, long] = width <= height ? [width, height] : [height, width];
  const newLong = Math.trunc((edge * long) / short);
  return width <= height ? { width: edge, height: newLong } : { width: newLong, height: edge };
}

export class ImageProcessor {
  readonly #config: ImageProcessorConfig;
  readonly #extra: Record<string, unknown>;
  readonly #defaults: ResolvedOptions;
  readonly #types: { image_processor_type: string; feature_extractor_type: string | null };

  private constructor(config: ImageProcessorConfig, extra: Record<string, unknown>, opts: ResolvedOptions, types: { image_processor_type: string; feature_extractor_type: string | null }) {
    this.#config = config;
    this.#extra = extra;
    this.#defaults = opts;
    this.#types = types;
  }

  /**
   * Load the image processor of a Hugging Face model folder, as AutoImageProcessor does: `preprocessor_config.json`,
   * else the `image_processor` object nested in `processor_config.json`; its `image_processor_type` (or
   * `feature_extractor_type`) picks the processor (ViT, DeiT, BEiT, CLIP, BLIP) and the defaults of absent keys.
   */
  static async fromPretrained(dir: string, opts?: PreprocessOptions): Promise<ImageProcessor> {
    if (typeof dir !== 'string') expected('a folder path', 'ImageProcessor.fromPretrained dir', dir);
    const file = join(dir, 'preprocessor_config.json');
    const processorFile = join(dir, 'processor_config.json');
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ENOENT') {
        const nested = await readNestedImageProcessor(processorFile);
        if (nested !== null) return ImageProcessor.#create(nested, opts, `${processorFile} (image_processor)`);
      }
      throw new InvalidArgumentError(
        `Expected a folder containing preprocessor_config.json (or processor_config.json with an image_processor) for ImageProcessor.fromPretrained but received string ` +
          `${JSON.stringify(dir)} (${e.code ?? 'error'} reading ${file})`,
        { cause: err },
      );
    }
    return ImageProcessor.#create(parseJsonObject(text, file), opts, file);
  }

  /** Build from a config object with Hugging Face keys (missing keys take ViTImageProcessor's defaults). */
  static fromConfig(config: ImageProcessorConfigInput = {}, opts?: PreprocessOptions): ImageProcessor {
    return ImageProcessor.#create(config, opts, 'config');
  }

  static #create(obj: ImageProcessorConfigInput, opts: PreprocessOptions | undefined, source: string): ImageProcessor {
    const config = parseImageProcessorConfig(obj, source);
    const extra: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) if (!OWN_KEYS.has(k)) extra[k] = v;
    const base: ResolvedOptions = {
      resizer: 'exact',
      filter: null,
      autoOrient: false,
      limitInputPixels: DEFAULT_LIMIT_INPUT_PIXELS,
      concurrency: Math.max(1, cpus().length),
    };
    const family = processorFamily(obj, source);
    const types = { image_processor_type: family.image_processor_type, feature_extractor_type: family.feature_extractor_type };
    return new ImageProcessor(config, extra, resolveOptions(base, opts, 'options'), types);
  }

  /** The parsed config (HF keys); a copy. */
  get config(): ImageProcessorConfig {
    return structuredClone(this.#config);
  }

  /** The preprocessor_config.json this processor writes (HF layout). */
  toJSON(): Record<string, unknown> {
    const c = this.#config;
    const out: Record<string, unknown> = { ...this.#extra };
    if (c.do_convert_rgb !== null) out.do_convert_rgb = c.do_convert_rgb;
    if (c.do_center_crop !== undefined) Object.assign(out, { do_center_crop: c.do_center_crop, crop_size: { ...c.crop_size! } });
    if (this.#types.feature_extractor_type !== null) out.feature_extractor_type = this.#types.feature_extractor_type;
    Object.assign(out, {
      do_normalize: c.do_normalize,
      do_rescale: c.do_rescale,
      do_resize: c.do_resize,
      image_mean: [...c.image_mean],
      image_processor_type: this.#types.image_processor_type,
      image_std: [...c.image_std],
      resample: c.resample,
      rescale_factor: c.rescale_factor,
      size: { ...c.size },
    });
    return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  /** Write `preprocessor_config.json` into `dir` (created if needed). */
  async save(dir: string): Promise<void> {
    if (typeof dir !== 'string') expected('a folder path', 'ImageProcessor.save dir', dir);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'preprocessor_config.json'), JSON.stringify(this.toJSON(), null, 2) + '\n');
  }

  /** Output size (height, width) for an image of the given size: the crop size when the processor crops. */
  outputSize(width: number, height: number): { height: number; width: number } {
    const c = this.#config;
    if (c.do_center_crop && c.crop_size) return { ...c.crop_size };
    return this.resizedSize(width, height);
  }

  /** Size (height, width) after the resize step, before any crop. */
  resizedSize(width: number, height: number): { height: number; width: number } {
    const c = this.#config;
    if (!c.do_resize) return { height, width };
    if ('shortest_edge' in c.size) return shortestEdgeSize(width, height, c.size.shortest_edge);
    return { height: c.size.height, width: c.size.width };
  }

  /**
   * Decode one image to RGB uint8 (no resize) as the processor does: PIL's `convert('RGB')` (alpha dropped), or,
   * when the config sets do_convert_rgb, transformers' `convert_to_rgb` (alpha composited over white).
   */
  async decode(input: ImageSource, opts?: PreprocessOptions): Promise<RgbImage> {
    const o = resolveOptions(this.#defaults, opts, 'options');
    return decodeRgb(input, this.#decodeOptions(o));
  }

  #decodeOptions(o: ResolvedOptions): DecodeOptions {
    return { autoOrient: o.autoOrient, limitInputPixels: o.limitInputPixels, convertToRgb: this.#config.do_convert_rgb === true };
  }

  /**
   * One image decoded, resized and centre-cropped as preprocess() does it, before rescale and normalize:
   * interleaved RGB uint8 [height, width, 3] (what transformers holds just before `rescale`). Where the crop is
   * larger than the resized image the border is 0, as transformers pads.
   */
  async resizeAndCrop(input: ImageInput, opts?: PreprocessOptions): Promise<RgbImage> {
    if (typeof input !== 'string' && !(input instanceof Uint8Array) && !isRawImage(input)) {
      expected('a file path, Buffer, Uint8Array or raw pixels {data, width, height, channels}', 'input', input);
    }
    const o = resolveOptions(this.#defaults, opts, 'options');
    const c = this.#config;
    const filter = o.filter ?? c.resample;
    let img: RgbImage;
    if (isRawImage(input)) img = rawToRgb(input, 'input', c.do_convert_rgb === true);
    else if (o.resizer === 'fast') {
      img = await decodeResizedFast(input, this.#decodeOptions(o), describeInput(input), FAST_KERNELS[filter], (w, h) => this.resizedSize(w, h));
    } else img = await decodeRgb(input, this.#decodeOptions(o), describeInput(input));
    const size = this.resizedSize(img.width, img.height);
    if (size.width !== img.width || size.height !== img.height) {
      img = { data: await nativeProcessing().resampleRgb(img.data, img.width, img.height, size.width, size.height, filter), ...size };
    }
    return c.do_center_crop && c.crop_size ? centerCropRgb(img, c.crop_size) : img;
  }

  /**
   * Images (paths or encoded bytes) -> pixel_values, float32 [B, 3, H, W]. A single input gives B = 1.
   * Errors name the offending file (or the index of the buffer).
   */
  async preprocess(inputs: ImageInput | readonly ImageInput[], opts?: PreprocessOptions): Promise<Tensor<'float32'>> {
    const list: readonly ImageInput[] = Array.isArray(inputs) ? inputs : [inputs as ImageInput];
    list.forEach((x, i) => {
      if (typeof x !== 'string' && !(x instanceof Uint8Array) && !isRawImage(x)) {
        expected('a file path, Buffer, Uint8Array or raw pixels {data, width, height, channels}', `inputs[${i}]`, x);
      }
    });
    const o = resolveOptions(this.#defaults, opts, 'options');
    const c = this.#config;
    const addon = nativeProcessing();
    const crop = c.do_center_crop && c.crop_size ? c.crop_size : null;
    const fixed = crop ?? (c.do_resize && !('shortest_edge' in c.size) ? (c.size as { height: number; width: number }) : null);
    if (list.length === 0) {
      return Tensor.zeros([0, 3, fixed?.height ?? 0, fixed?.width ?? 0], 'float32');
    }
    const plane = fixed ? 3 * fixed.height * fixed.width : 0;
    const batch = fixed ? new Float32Array(list.length * plane) : null;
    const filter = o.filter ?? c.resample;
    const nativeOpts = {
      filter,
      doRescale: c.do_rescale,
      rescaleFactor: c.rescale_factor,
      doNormalize: c.do_normalize,
      mean: c.image_mean,
      std: c.image_std,
    } as const;

    // Resized, rescaled and normalized planes, centre-cropped when the processor crops (into the batch when it has one).
    const finish = async (rgb: { data: Uint8Array; width: number; height: number }, size: { height: number; width: number }, i: number) => {
      const nopts = { ...nativeOpts, outWidth: size.width, outHeight: size.height };
      if (!crop) {
        const data = batch
          ? await addon.preprocessRgb(rgb.data, rgb.width, rgb.height, nopts, batch, i * plane)
          : await addon.preprocessRgb(rgb.data, rgb.width, rgb.height, nopts);
        return { data, ...size };
      }
      const full = await addon.preprocessRgb(rgb.data, rgb.width, rgb.height, nopts);
      const data = centerCrop(full, size.height, size.width, crop, c, batch, i * plane);
      return { data, ...crop };
    };

    const one = async (input: ImageInput, i: number): Promise<{ data: Float32Array; height: number; width: number }> => {
      if (isRawImage(input)) {
        // Already decoded (e.g. the synthetic shapes set): convert to RGB as PIL would, then the exact resize.
        const rgb = rawToRgb(input, `inputs[${i}]`, c.do_convert_rgb === true);
        return finish(rgb, this.resizedSize(rgb.width, rgb.height), i);
      }
      const label = describeInput(input, Array.isArray(inputs) ? i : undefined);
      const decodeOpts = this.#decodeOptions(o);
      const img =
        o.resizer === 'fast'
          ? await decodeResizedFast(input, decodeOpts, label, FAST_KERNELS[filter], (w, h) => this.resizedSize(w, h))
          : await decodeRgb(input, decodeOpts, label);
      // The fast path has resized already; the native call then only rescales and normalizes.
      const size = o.resizer === 'fast' ? { width: img.width, height: img.height } : this.resizedSize(img.width, img.height);
      return finish(img, size, i);
    };

    const results = await mapLimit(list, o.concurrency, one);
    if (batch && fixed) return Tensor.from(batch, [list.length, 3, fixed.height, fixed.width]) as Tensor<'float32'>;
    const { height, width } = results[0]!;
    results.forEach((r, i) => {
      if (r.height !== height || r.width !== width) {
        throw new InvalidArgumentError(
          `Expected images that resize to one size for a batch (size ${JSON.stringify(c.size)}) but ${isRawImage(list[i]) ? `inputs[${i}]` : describeInput(list[i] as ImageSource, i)} ` +
            `became ${r.width}x${r.height} and the first ${width}x${height}; preprocess them one at a time or use {height, width}`,
        );
      }
    });
    const out = new Float32Array(list.length * 3 * height * width);
    results.forEach((r, i) => out.set(r.data, i * 3 * height * width));
    return Tensor.from(out, [list.length, 3, height, width]) as Tensor<'float32'>;
  }

  toString(): string {
    const c = this.#config;
    return `ImageProcessor(${JSON.stringify(c.size)}, ${PIL_RESAMPLE_NAMES[this.#defaults.filter ?? c.resample]}, ${this.#defaults.resizer})`;
  }
}

/**
 * transformers' center_crop on [3, height, width] planes: the window starts at floor((size - crop) / 2) on each
 * axis; where the crop is larger than the image, HF pads with zeros before rescaling, which is
 * (0 - mean) / std here after normalization.
 */
function centerCrop(
  src: Float32Array, height: number, width: number, crop: { height: number; width: number }, c: ImageProcessorConfig,
  target: Float32Array | null, offset: number,
): Float32Array {
  const { height: ch, width: cw } = crop;
  const out = target ? target.subarray(offset, offset + 3 * ch * cw) : new Float32Array(3 * ch * cw);
  const top = Math.floor((height - ch) / 2);
  const left = Math.floor((width - cw) / 2);
  for (let k = 0; k < 3; k++) {
    const pad = c.do_normalize ? Math.fround((0 - Math.fround(c.image_mean[k]!)) / Math.fround(c.image_std[k]!)) : 0;
    for (let r = 0; r < ch; r++) {
      const y = r + top;
      const row = out.subarray((k * ch + r) * cw, (k * ch + r + 1) * cw);
      if (y < 0 || y >= height) {
        row.fill(pad);
        continue;
      }
      for (let q = 0; q < cw; q++) {
        const x = q + left;
        row[q] = x < 0 || x >= width ? pad : src[(k * height + y) * width + x]!;
      }
    }
  }
  return out;
}

/** transformers' center_crop on interleaved RGB uint8: window at floor((size - crop) / 2), zeros outside the image. */
function centerCropRgb(img: RgbImage, crop: { height: number; width: number }): RgbImage {
  const { width, height, data } = img;
  const { height: ch, width: cw } = crop;
  if (ch === height && cw === width) return img;
  const top = Math.floor((height - ch) / 2);
  const left = Math.floor((width - cw) / 2);
  const out = new Uint8Array(ch * cw * 3);
  for (let r = 0; r < ch; r++) {
    const y = r + top;
    if (y < 0 || y >= height) continue;
    const x0 = Math.max(0, left);
    const x1 = Math.min(width, left + cw);
    if (x1 > x0) out.set(data.subarray((y * width + x0) * 3, (y * width + x1) * 3), (r * cw + (x0 - left)) * 3);
  }
  return { data: out, width: cw, height: ch };
}

/** A JSON object from text, or a FormatError naming the file. */
function parseJsonObject(text: string, file: string): ImageProcessorConfigInput {
  let obj: unknown;
  try {
    obj = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (err) {
    throw new FormatError(`Cannot parse ${file}: ${(err as Error).message}`, { cause: err });
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new FormatError(`Cannot parse ${file}: expected a JSON object`);
  return obj as ImageProcessorConfigInput;
}

/**
 * The image processor nested in a processor_config.json (`{"image_processor": {...}, ...}`, as recent transformers
 * saves processors); null when the file does not exist or nests none.
 */
async function readNestedImageProcessor(file: string): Promise<ImageProcessorConfigInput | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return null;
  }
  const nested = parseJsonObject(text, file).image_processor;
  if (nested === undefined || nested === null) return null;
  if (typeof nested !== 'object' || Array.isArray(nested)) throw new FormatError(`Cannot parse ${file}: image_processor is not a JSON object`);
  return nested as ImageProcessorConfigInput;
}

/**
 * Raw pixels to RGB: gray to R = G = B; alpha dropped as PIL convert('RGB') does, or, with `convertToRgb`
 * (do_convert_rgb), composited over white as transformers' convert_to_rgb does.
 */
function rawToRgb(img: RawImage, name: string, convertToRgb: boolean): { data: Uint8Array; width: number; height: number } {
  const { width, height, channels, data } = img;
  // isRawImage checks the shape only: the numbers are checked here.
  if (!Number.isInteger(width) || !Number.isInteger(height) || ![1, 2, 3, 4].includes(channels)) {
    throw new InvalidArgumentError(
      `Expected integer width and height and channels 1, 2, 3 or 4 for ${name} but received ${width}x${height}x${channels}`,
    );
  }
  const n = width * height;
  if (width < 1 || height < 1 || data.length !== n * channels) {
    throw new InvalidArgumentError(`Expected ${n * channels} bytes for ${name} (${width}x${height}x${channels}) but received ${data.length}`);
  }
  if (channels === 3) return { data, width, height };
  if (convertToRgb && (channels === 2 || channels === 4)) return { data: compositeOverWhite(data, n, channels), width, height };
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const o = i * 3;
    if (channels <= 2) {
      const g = data[i * channels]!;
      out[o] = g; out[o + 1] = g; out[o + 2] = g;
    } else {
      out[o] = data[i * 4]!; out[o + 1] = data[i * 4 + 1]!; out[o + 2] = data[i * 4 + 2]!;
    }
  }
  return { data: out, width, height };
}
