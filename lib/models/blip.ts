/**
 * BlipForConditionalGeneration: Salesforce's BLIP captioner (Salesforce/blip-image-captioning-base/-large), as
 * transformers' class of that name. Text starts with [DEC] and ends with [SEP]; a prompt ("a picture of") is
 * continued and kept in the output.
 */
import type { LoadOptions, ModelFamily } from './captioning-model.js';
import { buildFromConfig, CaptioningModel, loadPretrained, promptTextIds, type Device, type PromptTokenizer } from './captioning-model.js';
import { blipNativeText, blipNativeVision, blipTokens, normalizeBlipConfig, type BlipConfig } from './architectures/blip.js';
import type { NativeModelHandle } from '../native.js';
import type { GenerateOptions } from './generation.js';

export type { BlipConfig, BlipTextConfig, BlipVisionConfig } from './architectures/blip.js';

const FAMILY: ModelFamily<BlipConfig> = {
  name: 'BlipForConditionalGeneration',
  normalize: normalizeBlipConfig,
  native: (c) => ({
    model_type: 'blip',
    // BlipPreTrainedModel initialises every part with the top-level initializer_range.
    vision: { ...blipNativeVision(c.vision_config), initializer_range: typeof c.initializer_range === 'number' ? c.initializer_range : 0.02 },
    text: blipNativeText(c.text_config),
    ...blipTokens(c),
  }),
  tokens: blipTokens,
  setTokens(c, ids) {
    if (ids.decoder_start_token_id !== null) c.text_config.bos_token_id = ids.decoder_start_token_id;
    if (ids.pad_token_id !== null) c.text_config.pad_token_id = ids.pad_token_id;
    if (ids.eos_token_id !== null) c.text_config.sep_token_id = ids.eos_token_id;
  },
  generation: (c) => ({
    vocabSize: c.text_config.vocab_size, maxLength: c.text_config.max_position_embeddings, positionsField: 'text_config.max_position_embeddings',
    bos_token_id: c.text_config.bos_token_id,
  }),
  labelSmoothing: (c) => c.text_config.label_smoothing,
};

export class BlipForConditionalGeneration extends CaptioningModel<BlipConfig> {
  private constructor(config: BlipConfig, handle: NativeModelHandle, generationConfig: Partial<GenerateOptions>) {
    super(FAMILY, config, handle, generationConfig);
  }

  /** A BLIP model with Hugging Face style random initialisation (deterministic for a seed). */
  static async fromConfig(config: unknown, opts: { seed?: number; device?: Device } = {}): Promise<BlipForConditionalGeneration> {
    const m = await buildFromConfig(FAMILY, config, opts);
    return new BlipForConditionalGeneration(m.config, m.handle, m.generation);
  }

  /** Load a Hugging Face BLIP folder (config.json with model_type "blip" + weights) or hub id. */
  static async fromPretrained(ref: string, opts: LoadOptions = {}): Promise<BlipForConditionalGeneration> {
    const m = await loadPretrained(FAMILY, ref, opts);
    return new BlipForConditionalGeneration(m.config, m.handle, m.generation);
  }

  /** A text prompt as the BLIP processor tokenizes it: [CLS] + ids + [SEP] (generate then feeds [DEC] + ids). */
  override promptInputIds(tokenizer: PromptTokenizer, prompt: string): number[] {
    const ids = promptTextIds(tokenizer, prompt);
    const cls = tokenizer.cls_token_id ?? this.config.text_config.bos_token_id;
    return [cls, ...ids, this.config.text_config.sep_token_id];
  }

  /**
   * BLIP's generate with a prompt: the processor's `[CLS] ... [SEP]` ids become `[DEC] ...` (first token replaced by
   * bos, the final [SEP] dropped), as transformers does.
   */
  protected override promptStartIds(rows: number[][]): number[][] {
    const bos = this.specialTokenIds.decoder_start_token_id ?? this.config.text_config.bos_token_id;
    return rows.map((r) => {
      const out = r.length > 1 ? r.slice(0, -1) : [...r];
      out[0] = bos;
      return out;
    });
  }
}
