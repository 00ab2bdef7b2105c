/**
 * Typed facade over the image-processing functions of the native addon (native/addon/processing_binding.cc):
 * Pillow-exact resize plus rescale/normalize, run as jobs on the addon's image threads.
 */
import { NativeLoadError } from '../errors.js';
import { loadAddon } from '../native.js';

/** Options of one preprocessRgb call (copied into a C++ struct before the job starts). */
export interface NativePreprocessOptions {
  outWidth: number;
  outHeight: number;
  /** PIL filter number 0..5. */
  filter: number;
  doRescale: boolean;
  rescaleFactor: number;
  doNormalize: boolean;
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

export interface NativeProcessing {
  /**
   * Interleaved RGB uint8 [height, width, 3] -> planar float32 [3, outHeight, outWidth], written into `out` at
   * `outOffset` (in elements) when given, else into a new array. Resolves with the array written.
   */
  preprocessRgb(
    rgb: Uint8Array,
    width: number,
    height: number,
    opts: NativePreprocessOptions,
    out?: Float32Array,
    outOffset?: number,
  ): Promise<Float32Array>;
  /** Pillow-exact resize alone: interleaved RGB uint8 out. */
  resampleRgb(rgb: Uint8Array, width: number, height: number, outWidth: number, outHeight: number, filter: number): Promise<Uint8Array>;
  /** The same resize through the plain scalar loops (test reference for the vectorized path). */
  resampleRgbReference(rgb: Uint8Array, width: number, height: number, outWidth: number, outHeight: number, filter: number): Promise<Uint8Array>;
}

const FUNCTIONS = ['preprocessRgb', 'resampleRgb', 'resampleRgbReference'] as const;

let cached: NativeProcessing | undefined;

/** The processing functions of the addon, loaded on first use. */
export function nativeProcessing(): NativeProcessing {
  if (cached) return cached;
  const loaded = loadAddon();
  const mod = loaded.addon as unknown as Record<string, unknown>;
  const missing = FUNCTIONS.filter((f) => typeof mod[f] !== 'function');
  if (missing.length > 0) {
    throw new NativeLoadError(
      `The torch-caption addon at ${loaded.path} has no image-processing functions (${missing.join(', ')}): it was built ` +
        'from older sources. Rebuild it with `npm run build:native`.',
    );
  }
  cached = mod as unknown as NativeProcessing;
  return cached;
}
