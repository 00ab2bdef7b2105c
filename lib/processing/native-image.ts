/**
 * Typed facade over the image-processing functions of the native addon (native/addon/processing_binding.cc):
 * Pillow-exact resize plus rescale/normalize, run as jobs on the addon's image threads.
 */
import { loadAddon } from '../native.js';

export type { NativePreprocessOptions, NativeProcessing } from '../native.js';
import type { NativeProcessing } from '../native.js';

/** The processing functions of the addon, loaded on first use. */
export function nativeProcessing(): NativeProcessing {
  return loadAddon().addon;
}
