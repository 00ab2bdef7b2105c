/**
 * AutoModelForVision2Seq: the captioner class a folder's config.json names (model_type), as transformers'
 * Auto classes pick it: vision-encoder-decoder -> VisionEncoderDecoder, git -> GitForCausalLM,
 * blip -> BlipForConditionalGeneration.
 */
import { join } from 'node:path';
import { UnsupportedConfigError } from '../errors.js';
import { readJson } from '../json.js';
import { BlipForConditionalGeneration } from './blip.js';
import type { Device, LoadOptions } from './captioning-model.js';
import { GitForCausalLM } from './git.js';
import { resolveModelDir } from './hub.js';
import { VisionEncoderDecoder } from './vision-encoder-decoder.js';

/** The input resolution of a captioner's vision tower. */
export function imageSizeOf(model: CaptionModel): number {
  const c = model.config as { encoder?: { image_size?: number }; vision_config?: { image_size?: number } };
  return c.encoder?.image_size ?? c.vision_config?.image_size ?? 224;
}

/** Any captioner this package loads. */
export type CaptionModel = VisionEncoderDecoder | GitForCausalLM | BlipForConditionalGeneration;

const CLASSES = {
  'vision-encoder-decoder': VisionEncoderDecoder,
  git: GitForCausalLM,
  blip: BlipForConditionalGeneration,
} as const;

/** The model_type of a folder's config.json, checked to be one this package loads. */
export async function captionModelType(dir: string): Promise<keyof typeof CLASSES> {
  const cfg = await readJson<Record<string, unknown>>(join(dir, 'config.json'), 'model config');
  const type = cfg?.model_type;
  if (typeof type === 'string' && type in CLASSES) return type as keyof typeof CLASSES;
  throw new UnsupportedConfigError(
    `config.json in ${dir} has model_type ${JSON.stringify(type)}; the image-to-text models here are ${Object.keys(CLASSES).join(', ')} ` +
      '(for a separate image encoder and text decoder use VisionEncoderDecoder.fromEncoderDecoderPretrained)',
  );
}

export const AutoModelForVision2Seq = {
  /** A fresh model of the class the config's model_type names (HF-style random init, deterministic for a seed). */
  async fromConfig(config: Record<string, unknown>, opts: { seed?: number; device?: Device } = {}): Promise<CaptionModel> {
    const type = config?.model_type;
    if (typeof type !== 'string' || !(type in CLASSES)) {
      throw new UnsupportedConfigError(`model_type ${JSON.stringify(type)}: the image-to-text models here are ${Object.keys(CLASSES).join(', ')}`);
    }
    return CLASSES[type as keyof typeof CLASSES].fromConfig(config, opts);
  },

  /** Load a folder (or hub id) with the class its config.json's model_type names. */
  async fromPretrained(ref: string, opts: LoadOptions = {}): Promise<CaptionModel> {
    const dir = await resolveModelDir(ref, { revision: opts.revision });
    const type = await captionModelType(dir);
    return CLASSES[type].fromPretrained(dir, opts);
  },
};
