/**
 * VisionEncoderDecoder: any supported vision encoder (ViT, DeiT, BEiT, Swin, CLIP vision) with any supported
 * text decoder (GPT-2, BERT, RoBERTa) through cross-attention, as transformers' VisionEncoderDecoderModel. The
 * shared model API (forward, generate, trainStep, save, ...) is CaptioningModel's.
 */
import { join } from 'node:path';
import { TorchCaptionError } from '../errors.js';
import type { RawTensor } from '../native.js';
import { readJson } from '../json.js';
import type { Tensor } from '../tensor.js';
import { decoderArchitecture, encoderArchitecture } from './architectures/index.js';
import {
  buildFromConfig, buildNative, CaptioningModel, folderGenerationDefaults, loadPretrained, mapRecord, readWeights, toRaw, weightsOf,
  type Device, type LoadOptions, type ModelFamily,
} from './captioning-model.js';
import { composeConfig, decoderMaxLength, decoderVocabSize, nativeModelConfig, normalizeConfig, specialTokens, type VisionEncoderDecoderConfig } from './config.js';
import { resolveModelDir } from './hub.js';
import type { GenerateOptions } from './generation.js';
import { ComposedPart } from './standalone.js';

export {
  checkAutocast, fromRaw, readWeights, resolveDevice,
  type AutocastDType, type Device, type ForwardInputs, type ForwardOutput, type LoadOptions, type ModelDType, type Saveable,
  type TrainStepOptimizer, type TrainStepOptions, type TrainStepProcessGroup, type TrainStepResult,
} from './captioning-model.js';

/**
 * A model object fromEncoderDecoderPretrained reads through its config and tensors: a standalone ViTModel,
 * GPT2LMHeadModel, ... (lib/models/standalone.ts), or another model's `model.encoder` / `model.decoder`.
 */
export interface PretrainedPart {
  readonly config: object;
  stateDict(): Promise<Record<string, Tensor>>;
}

/** One side of fromEncoderDecoderPretrained: a folder (or hub id) or a model object. */
async function partSource(ref: string | PretrainedPart, what: 'encoder' | 'decoder'): Promise<{ label: string; config: Record<string, unknown>; state: () => Promise<Record<string, RawTensor>> }> {
  if (typeof ref === 'string') {
    const dir = await resolveModelDir(ref);
    const config = await readJson<Record<string, unknown>>(join(dir, 'config.json'), `${what} config`);
    return {
      label: dir, config,
      state: async () => {
        const state: Record<string, RawTensor> = {};
        for (const f of weightsOf(dir)) Object.assign(state, await readWeights(f));
        return state;
      },
    };
  }
  if (typeof ref !== 'object' || ref === null || typeof ref.config !== 'object' || typeof ref.stateDict !== 'function') {
    throw new TorchCaptionError(`Expected a folder, a hub id or a model object (ViTModel, GPT2LMHeadModel, model.${what}, ...) for the ${what}`);
  }
  const name = (ref as { className?: unknown }).className;
  return {
    label: `the ${typeof name === 'string' ? name : what} object`,
    config: structuredClone(ref.config) as Record<string, unknown>,
    state: async () => mapRecord(await ref.stateDict(), (t, k) => toRaw(t, k)),
  };
}

const FAMILY: ModelFamily<VisionEncoderDecoderConfig> = {
  name: 'VisionEncoderDecoder',
  normalize: normalizeConfig,
  native: nativeModelConfig,
  tokens: specialTokens,
  setTokens(c, ids) {
    c.decoder_start_token_id = ids.decoder_start_token_id;
    c.pad_token_id = ids.pad_token_id;
    c.eos_token_id = ids.eos_token_id;
  },
  generation: (c) => ({
    vocabSize: decoderVocabSize(c), maxLength: decoderMaxLength(c), positionsField: `decoder.${decoderArchitecture(c.decoder).positionsField}`,
    bos_token_id: c.bos_token_id,
  }),
  labelSmoothing: () => 0,
};

export class VisionEncoderDecoder extends CaptioningModel<VisionEncoderDecoderConfig> {
  /** fromEncoderDecoderPretrained: the parameters initialized fresh and the checkpoint tensors not used, as transformers logs them. */
  loadReport: { newly_initialized: string[]; unused: string[] } | null = null;

  private constructor(config: VisionEncoderDecoderConfig, handle: Awaited<ReturnType<typeof buildNative>>, generationConfig: Partial<GenerateOptions>) {
    super(FAMILY, config, handle, generationConfig);
  }

  protected override get textInputName(): 'decoder_input_ids' {
    return 'decoder_input_ids';
  }

  /**
   * The encoder on its own, as transformers' `model.encoder`: `model.encoder.save(dir)` writes a standalone
   * checkpoint (config.encoder as config.json, the encoder.* tensors without the prefix). The model's config
   * stays `model.config.encoder`.
   */
  get encoder(): ComposedPart {
    return new ComposedPart(this, 'encoder');
  }

  /** The decoder on its own (`model.decoder.save(dir)`: config.decoder and the decoder.* tensors, cross-attention included). */
  get decoder(): ComposedPart {
    return new ComposedPart(this, 'decoder');
  }

  /** A model with Hugging Face style random initialisation (deterministic for a seed). */
  static async fromConfig(config: unknown, opts: { seed?: number; device?: Device } = {}): Promise<VisionEncoderDecoder> {
    const m = await buildFromConfig(FAMILY, config, opts);
    return new VisionEncoderDecoder(m.config, m.handle, m.generation);
  }

  /** Load a Hugging Face vision-encoder-decoder folder (config.json + model.safetensors) or hub id. */
  static async fromPretrained(ref: string, opts: LoadOptions = {}): Promise<VisionEncoderDecoder> {
    const m = await loadPretrained(FAMILY, ref, opts);
    return new VisionEncoderDecoder(m.config, m.handle, m.generation);
  }

  /**
   * Compose a captioner from a pretrained encoder (ViT/Swin folder) and a pretrained GPT-2 folder, as
   * transformers' from_encoder_decoder_pretrained does: the decoder gets cross-attention, whose new
   * weights (and enc_to_dec_proj) are initialised HF-style. Either side may also be a model object
   * (ViTModel, GPT2LMHeadModel, ..., or another model's model.encoder / model.decoder), read through its
   * config and stateDict.
   */
  static async fromEncoderDecoderPretrained(encoderRef: string | PretrainedPart, decoderRef: string | PretrainedPart, opts: LoadOptions & { seed?: number } = {}): Promise<VisionEncoderDecoder> {
    const encSource = await partSource(encoderRef, 'encoder');
    const decSource = await partSource(decoderRef, 'decoder');
    const encDir = encSource.label;
    const decDir = decSource.label;
    const cfg = composeConfig(encSource.config, decSource.config);
    // Only what neither checkpoint provides is initialized (below), not the tensors they overwrite.
    const handle = await buildNative(nativeModelConfig(cfg), opts.seed ?? 0, 'cpu', false);
    const model = new VisionEncoderDecoder(cfg, handle, folderGenerationDefaults(FAMILY, cfg, undefined));
    // Load each part under its prefix, then report what neither provided beyond the new cross-attention.
    const encoderArch = encoderArchitecture(cfg.encoder);
    const decoderArch = decoderArchitecture(cfg.decoder);
    const encoderKey = (name: string): string | null => {
      const prefix = encoderArch.checkpointPrefixes.find((p) => name.startsWith(p));
      return `encoder.${prefix ? name.slice(prefix.length) : name}`;
    };
    const decoderKey = (name: string): string | null => {
      const key = decoderArch.decoderKey(name);
      return key === null ? null : `decoder.${key}`;
    };
    const loaded = new Set<string>();
    const unused: string[] = [];
    for (const [source, rename] of [[encSource, encoderKey], [decSource, decoderKey]] as const) {
      const state = await source.state();
      const renamed: Record<string, RawTensor> = {};
      const original = new Map<string, string>();
      for (const [name, t] of Object.entries(state)) {
        const key = rename(name);
        if (key === null) unused.push(name);
        else {
          renamed[key] = t;
          original.set(key, name);
        }
      }
      const report = await handle.loadStateDict(renamed);
      const unexpected = new Set(report.unexpected);
      for (const key of Object.keys(renamed)) if (!unexpected.has(key)) loaded.add(key);
      // As transformers reports them: under the checkpoint's own names (classifier.weight, text_model.*).
      unused.push(...report.unexpected.map((k) => original.get(k) ?? k));
    }
    const missing = handle.parameterInfo().map((p) => p.name).filter((n) => !loaded.has(n));
    const expectedNew = (n: string): boolean =>
      /enc_to_dec_proj|pooler/.test(n) || (n.startsWith('decoder.') && decoderArch.newWhenComposed.test(n));
    const unexpectedMissing = missing.filter((n) => !expectedNew(n));
    if (unexpectedMissing.length && !opts.allowMissing) {
      throw new TorchCaptionError(`The encoder/decoder checkpoints lack: ${unexpectedMissing.slice(0, 20).join(', ')}${unexpectedMissing.length > 20 ? ', …' : ''} (pass allowMissing: true to initialise them)`);
    }
    // The new tensors first, in parameter order (so they do not depend on allowMissing), then any the
    // checkpoints lacked with allowMissing.
    await handle.initWeights({ seed: opts.seed ?? 0, only: missing.filter(expectedNew) });
    if (unexpectedMissing.length) await handle.initWeights({ seed: (opts.seed ?? 0) + 1, only: unexpectedMissing });
    model.loadReport = { newly_initialized: missing.sort(), unused: unused.sort() };
    // The two lines transformers logs, which users read to check that only cross-attention is new.
    if (missing.length) {
      process.emitWarning(`Some weights of VisionEncoderDecoder were not initialized from the checkpoints at ${encDir} and ${decDir} and are newly initialized: [${missing.join(', ')}]. You should probably TRAIN this model on a down-stream task to be able to use it for predictions and inference.`, { code: 'TORCH_CAPTION_NEWLY_INITIALIZED' });
    }
    if (unused.length) {
      process.emitWarning(`Some weights of the checkpoints at ${encDir} and ${decDir} were not used when initializing VisionEncoderDecoder: [${unused.join(', ')}]`, { code: 'TORCH_CAPTION_UNUSED_WEIGHTS' });
    }
    await model.to(opts.device ?? 'cpu', opts.dtype ?? 'float32');
    return model;
  }

}
