/**
 * Standalone encoder and decoder models, as transformers has them outside a VisionEncoderDecoder: the vision
 * encoders (ViTModel, DeiTModel, BeitModel, SwinModel, CLIPVisionModel) and the text decoders as causal
 * language models (GPT2LMHeadModel, BertLMHeadModel, RobertaForCausalLM). Each is built from a config or
 * loaded from a folder, saved in the Hugging Face layout (config.json + model.safetensors, the standalone
 * class's checkpoint keys), and accepted by VisionEncoderDecoder.fromEncoderDecoderPretrained.
 *
 * ComposedPart is what `model.encoder` / `model.decoder` of a VisionEncoderDecoder return: the part's config
 * and tensors, saveable on their own as HF's `model.encoder.save_pretrained(dir)` writes them.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FormatError, InvalidArgumentError, UnsupportedConfigError } from '../errors.js';
import { readJson } from '../json.js';
import { native, type NativeModelConfig, type NativeModelHandle, type RawTensor } from '../native.js';
import { Tensor } from '../tensor.js';
import { decoderArchitecture, encoderArchitecture, type RawConfig } from './architectures/index.js';
import {
  buildNative, checkLoadReport, fromRaw, mapRecord, NativeModule, readWeights, toRaw, weightsOf,
  type Device, type LoadOptions,
} from './captioning-model.js';
import type { BeitConfig, BertConfig, CLIPVisionConfig, DecoderConfig, EncoderConfig, GPT2Config, SwinConfig, ViTConfig, VisionEncoderDecoderConfig } from './config.js';
import { resolveModelDir } from './hub.js';

const NO_TOKENS = { decoder_start_token_id: null, pad_token_id: null, eos_token_id: null } as const;

/** The standalone class Hugging Face saves a part as (config.json "architectures"), by model_type. */
const CLASS_NAMES: Record<string, string> = {
  vit: 'ViTModel', deit: 'DeiTModel', beit: 'BeitModel', swin: 'SwinModel', clip_vision_model: 'CLIPVisionModel', clip: 'CLIPVisionModel',
  gpt2: 'GPT2LMHeadModel', bert: 'BertLMHeadModel', roberta: 'RobertaForCausalLM',
};

/** The standalone class name of an encoder or decoder config (by its model_type). */
export function standaloneClassName(config: { model_type?: unknown }): string {
  const name = CLASS_NAMES[String(config.model_type)];
  if (!name) throw new UnsupportedConfigError(`model_type = ${JSON.stringify(config.model_type)} has no standalone model class (supported: ${Object.keys(CLASS_NAMES).join(', ')})`);
  return name;
}

type Kind = 'encoder' | 'decoder';

function normalizePart(kind: Kind, raw: RawConfig): RawConfig {
  return kind === 'encoder' ? encoderArchitecture(raw).normalize(raw) : decoderArchitecture(raw).normalize(raw);
}

function nativePartConfig(kind: Kind, c: RawConfig): NativeModelConfig {
  return kind === 'encoder'
    ? { model_type: 'standalone-encoder', encoder: encoderArchitecture(c).native(c), ...NO_TOKENS }
    : { model_type: 'standalone-decoder', decoder: decoderArchitecture(c).native(c), ...NO_TOKENS };
}

/** A standalone checkpoint key as the native part names it (prefixes stripped, bare base-model keys completed), or null: not used. */
function partKey(kind: Kind, c: RawConfig, name: string): string | null {
  if (kind === 'decoder') return decoderArchitecture(c).decoderKey(name);
  const prefix = encoderArchitecture(c).checkpointPrefixes.find((p) => name.startsWith(p));
  return prefix ? name.slice(prefix.length) : name;
}

/** Parameters a standalone load may create fresh, as transformers does (with a warning): poolers, cross-attention. */
function newOnLoad(kind: Kind, c: RawConfig, name: string): boolean {
  return kind === 'encoder' ? /^pooler\./.test(name) : decoderArchitecture(c).newWhenComposed.test(name);
}

/** config.json as save_pretrained writes it: the config with model_type, and architectures naming the class. */
function configJson(config: RawConfig, className: string): string {
  return JSON.stringify({ ...config, architectures: [className] }, null, 2) + '\n';
}

/** What the static constructors read of a standalone class. */
export interface StandaloneClass<T> {
  /** The class itself (the static constructors build through it; its arguments are internal). */
  new (config: never, handle: never): T;
  /** Hugging Face's class name (written as config.json "architectures"). */
  readonly className: string;
  /** The config.json model_type values the class reads; the first is the one a config without model_type gets. */
  readonly modelTypes: readonly string[];
  readonly kind: 'encoder' | 'decoder';
}

/**
 * What every standalone model shares: its config (HF keys, defaults filled in), its tensors under the
 * standalone checkpoint names, saving in the HF layout, devices and training mode. Every method that
 * touches tensors is one native call off the event loop.
 */
export abstract class StandaloneModel<C extends object = Record<string, unknown>> extends NativeModule {
  /** Parsed config.json (HF keys, model_type set, HF's defaults filled in). */
  readonly config: C;
  /** fromPretrained: the parameters initialized fresh and the checkpoint tensors not used, as transformers logs them. */
  loadReport: { newly_initialized: string[]; unused: string[] } | null = null;

  /** @internal Use fromConfig / fromPretrained. */
  constructor(config: C, handle: NativeModelHandle) {
    super(handle);
    this.config = config;
  }

  /** Hugging Face's class name (ViTModel, GPT2LMHeadModel, ...). */
  get className(): string {
    return (this.constructor as unknown as StandaloneClass<this>).className;
  }

  /** A model with Hugging Face style random initialisation (deterministic for a seed). */
  static async fromConfig<T extends StandaloneModel<object>>(this: StandaloneClass<T>, config: object, opts: { seed?: number; device?: Device } = {}): Promise<T> {
    const c = checkedConfig(this, config);
    const handle = await buildNative(nativePartConfig(this.kind, c), opts.seed ?? 0, opts.device ?? 'cpu');
    return new this(c as never, handle as never);
  }

  /**
   * Load a folder (or hub id) holding config.json and model.safetensors (or shards, or pytorch_model.bin), as
   * from_pretrained does: keys of task checkpoints (ViTForImageClassification's vit.*, a bare GPT2Model's
   * h.*) are mapped to this class's, heads it lacks are reported unused, a missing pooler (or cross-attention)
   * is initialised fresh with a warning; other missing tensors fail unless allowMissing.
   */
  static async fromPretrained<T extends StandaloneModel<object>>(this: StandaloneClass<T>, ref: string, opts: LoadOptions = {}): Promise<T> {
    const dir = await resolveModelDir(ref, { revision: opts.revision });
    const c = checkedConfig(this, await readJson(join(dir, 'config.json'), 'model config'));
    const handle = await buildNative(nativePartConfig(this.kind, c), 0, 'cpu', false); // initialized below where the checkpoint lacks
    const renamed: Record<string, RawTensor> = {};
    const unused: string[] = [];
    for (const f of weightsOf(dir)) {
      for (const [name, t] of Object.entries(await readWeights(f))) {
        const key = partKey(this.kind, c, name);
        if (key === null) unused.push(name);
        else renamed[key] = t;
      }
    }
    const report = await handle.loadStateDict(renamed);
    unused.push(...report.unexpected);
    const lacking = report.missing.filter((n) => !newOnLoad(this.kind, c, n));
    checkLoadReport({ missing: lacking, unexpected: [] }, dir, opts.allowMissing ?? false);
    if (report.missing.length) await handle.initWeights({ seed: 0, only: report.missing });
    const model = new this(c as never, handle as never);
    model.loadReport = { newly_initialized: [...report.missing].sort(), unused: unused.sort() };
    if (report.missing.length) {
      process.emitWarning(`Some weights of ${this.className} were not initialized from the model checkpoint at ${dir} and are newly initialized: [${report.missing.join(', ')}]. You should probably TRAIN this model on a down-stream task to be able to use it for predictions and inference.`, { code: 'TORCH_CAPTION_NEWLY_INITIALIZED' });
    }
    if (unused.length) {
      process.emitWarning(`Some weights of the model checkpoint at ${dir} were not used when initializing ${this.className}: [${unused.join(', ')}]`, { code: 'TORCH_CAPTION_UNUSED_WEIGHTS' });
    }
    if ((opts.device ?? 'cpu') !== 'cpu' || (opts.dtype ?? 'float32') !== 'float32') await model.to(opts.device ?? 'cpu', opts.dtype ?? 'float32');
    return model;
  }

  /** Write config.json (model_type, architectures: [this class]) and model.safetensors, as save_pretrained does. */
  async save(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    await this.handle.saveSafetensors(join(dir, 'model.safetensors'));
    await writeFile(join(dir, 'config.json'), configJson(this.config as RawConfig, this.className));
  }
}

/** The config for a class: model_type filled in when absent, checked to be the class's, HF defaults applied. */
function checkedConfig(cls: StandaloneClass<unknown>, raw: unknown): RawConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new FormatError(`Expected a config object for ${cls.className}`);
  const r = { ...(raw as RawConfig) };
  if (r.model_type === undefined) r.model_type = cls.modelTypes[0];
  if (r.model_type === 'vision-encoder-decoder') {
    throw new UnsupportedConfigError(`model_type = "vision-encoder-decoder" is a composed model: load it with VisionEncoderDecoder.fromPretrained (its parts are model.encoder and model.decoder)`);
  }
  if (!cls.modelTypes.includes(r.model_type as string)) {
    let hint = '';
    try {
      hint = ` (it is a ${standaloneClassName(r)} config)`;
    } catch {
      // no standalone class reads it
    }
    throw new UnsupportedConfigError(`model_type = ${JSON.stringify(r.model_type)} cannot be loaded as ${cls.className}, which reads ${cls.modelTypes.map((t) => JSON.stringify(t)).join(' or ')}${hint}`);
  }
  return normalizePart(cls.kind, r);
}

export interface EncoderForwardInputs {
  pixel_values: Tensor;
}

export interface EncoderForwardOutput {
  /** Shape [B, S, hidden]: what a VisionEncoderDecoder's decoder cross-attends to. */
  last_hidden_state: Tensor<'float32'>;
}

/** The vision encoders on their own (as transformers' ViTModel, SwinModel, ...). */
export abstract class VisionEncoderModel<C extends object = EncoderConfig> extends StandaloneModel<C> {
  static readonly kind: 'encoder' | 'decoder' = 'encoder';

  /** pixel_values [B, C, H, W] -> last_hidden_state (the pooler, which HF's class also has, is not applied). */
  async forward(inputs: EncoderForwardInputs): Promise<EncoderForwardOutput> {
    const px = inputs?.pixel_values;
    if (!(px instanceof Tensor) || px.dtype !== 'float32') {
      throw new InvalidArgumentError(`Expected a float32 Tensor for pixel_values but received ${px instanceof Tensor ? px.dtype : typeof px}`);
    }
    const out = (await this.handle.forward({ pixel_values: toRaw(px, 'pixel_values') }, { label_smoothing: 0, logits: false })) as { encoder_last_hidden_state: RawTensor };
    return { last_hidden_state: fromRaw(out.encoder_last_hidden_state) as Tensor<'float32'> };
  }
}

export interface CausalLMInputs {
  input_ids: Tensor;
  /** [B, T]; the loss is shifted inside (position t predicts labels[t + 1]), -100 ignored, as HF's causal LMs. */
  labels?: Tensor;
  /** Shape [B, S, hidden], for a decoder with cross-attention (add_cross_attention), e.g. one saved from a VisionEncoderDecoder. */
  encoder_hidden_states?: Tensor;
}

export interface CausalLMOutput {
  loss?: number;
  /** [B, T, vocab] */
  logits: Tensor<'float32'>;
}

/** The text decoders as causal language models (as transformers' GPT2LMHeadModel, BertLMHeadModel, ...). */
export abstract class CausalLMModel<C extends object = DecoderConfig> extends StandaloneModel<C> {
  static readonly kind: 'encoder' | 'decoder' = 'decoder';

  /** Teacher-forced forward without gradients: logits, and the shifted causal-LM loss with labels. */
  async forward(inputs: CausalLMInputs): Promise<CausalLMOutput> {
    if (typeof inputs !== 'object' || inputs === null) throw new InvalidArgumentError('Expected an object with input_ids (and labels) for the model inputs');
    const ids = (k: 'input_ids' | 'labels'): RawTensor | undefined => {
      const t = inputs[k];
      if (t === undefined && k === 'labels') return undefined;
      if (!(t instanceof Tensor) || t.dtype !== 'int64') throw new InvalidArgumentError(`Expected an int64 Tensor for ${k} but received ${t instanceof Tensor ? t.dtype : typeof t}`);
      return toRaw(t, k);
    };
    const input_ids = ids('input_ids')!;
    const labels = ids('labels');
    const cross = (this.config as { add_cross_attention?: boolean }).add_cross_attention === true;
    const enc = inputs.encoder_hidden_states;
    if (cross && enc === undefined) {
      throw new InvalidArgumentError(`This ${this.className} has cross-attention (config.add_cross_attention): pass encoder_hidden_states, or build it with add_cross_attention: false`);
    }
    if (!cross && enc !== undefined) throw new InvalidArgumentError(`encoder_hidden_states were given but this ${this.className} has no cross-attention (config.add_cross_attention is false)`);
    if (enc !== undefined && (!(enc instanceof Tensor) || enc.dtype !== 'float32')) throw new InvalidArgumentError('Expected a float32 Tensor for encoder_hidden_states');
    const out = await this.handle.forward(
      { input_ids, ...(labels ? { labels } : {}), ...(enc ? { pixel_values: toRaw(enc, 'encoder_hidden_states') } : {}) },
      { label_smoothing: 0, logits: true },
    );
    return { ...(typeof out.loss === 'number' ? { loss: out.loss } : {}), logits: fromRaw(out.logits!) as Tensor<'float32'> };
  }
}

/** ViTModel: embeddings.*, encoder.layer.N.*, layernorm.*, pooler.* (model_type vit). */
export class ViTModel extends VisionEncoderModel<ViTConfig> {
  static readonly className = 'ViTModel';
  static readonly modelTypes: readonly string[] = ['vit'];
}

/** DeiTModel: ViT's layout with a distillation token (model_type deit). */
export class DeiTModel extends VisionEncoderModel<ViTConfig> {
  static readonly className = 'DeiTModel';
  static readonly modelTypes: readonly string[] = ['deit'];
}

/** BeitModel (model_type beit). */
export class BeitModel extends VisionEncoderModel<BeitConfig> {
  static readonly className = 'BeitModel';
  static readonly modelTypes: readonly string[] = ['beit'];
}

/** SwinModel: embeddings.*, encoder.layers.N.*, layernorm.* (model_type swin). */
export class SwinModel extends VisionEncoderModel<SwinConfig> {
  static readonly className = 'SwinModel';
  static readonly modelTypes: readonly string[] = ['swin'];
}

/** CLIPVisionModel: vision_model.* (model_type clip_vision_model; a full CLIP config is read for its vision_config). */
export class CLIPVisionModel extends VisionEncoderModel<CLIPVisionConfig> {
  static readonly className = 'CLIPVisionModel';
  static readonly modelTypes: readonly string[] = ['clip_vision_model', 'clip'];
}

/** GPT2LMHeadModel: transformer.* (lm_head.weight tied to transformer.wte.weight unless tie_word_embeddings is false). */
export class GPT2LMHeadModel extends CausalLMModel<GPT2Config> {
  static readonly className = 'GPT2LMHeadModel';
  static readonly modelTypes: readonly string[] = ['gpt2'];
}

/** BertLMHeadModel: bert.*, cls.predictions.* (always causal, as HF's with is_decoder: true). */
export class BertLMHeadModel extends CausalLMModel<BertConfig> {
  static readonly className = 'BertLMHeadModel';
  static readonly modelTypes: readonly string[] = ['bert'];
}

/** RobertaForCausalLM: roberta.*, lm_head.* (always causal, as HF's with is_decoder: true). */
export class RobertaForCausalLM extends CausalLMModel<BertConfig> {
  static readonly className = 'RobertaForCausalLM';
  static readonly modelTypes: readonly string[] = ['roberta'];
}

/**
 * `model.encoder` / `model.decoder` of a VisionEncoderDecoder: the part's config and tensors read from the
 * composed model when asked (so always current). save(dir) writes the standalone layout HF's
 * `model.encoder.save_pretrained(dir)` writes: the part config (architectures: ViTModel, GPT2LMHeadModel, ...)
 * and the part's tensors without the prefix; a decoder's include its cross-attention. Loadable with the
 * standalone classes and fromEncoderDecoderPretrained (which also takes this object directly).
 */
export class ComposedPart {
  readonly #owner: { readonly handle: NativeModelHandle; readonly config: VisionEncoderDecoderConfig };
  /** 'encoder' or 'decoder': where in the composed model this part sits. */
  readonly part: 'encoder' | 'decoder';

  /** @internal */
  constructor(owner: { readonly handle: NativeModelHandle; readonly config: VisionEncoderDecoderConfig }, part: 'encoder' | 'decoder') {
    this.#owner = owner;
    this.part = part;
  }

  /** The composed model's config.encoder / config.decoder (the same object: edits show in both). */
  get config(): EncoderConfig | DecoderConfig {
    return this.#owner.config[this.part];
  }

  /** The standalone class this part saves as (ViTModel, GPT2LMHeadModel, ...). */
  get className(): string {
    return standaloneClassName(this.config);
  }

  async #raw(): Promise<Record<string, RawTensor>> {
    const prefix = `${this.part}.`;
    const out: Record<string, RawTensor> = {};
    for (const [k, t] of Object.entries(await this.#owner.handle.stateDict())) if (k.startsWith(prefix)) out[k.slice(prefix.length)] = t;
    return out;
  }

  /** The part's tensors under standalone names (the composed model's `encoder.*` / `decoder.*`, prefix removed). */
  async stateDict(): Promise<Record<string, Tensor>> {
    return mapRecord(await this.#raw(), fromRaw);
  }

  /** Write config.json and model.safetensors of the part alone. */
  async save(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    await native().writeSafetensors(join(dir, 'model.safetensors'), await this.#raw(), { format: 'pt' });
    await writeFile(join(dir, 'config.json'), configJson(this.config as RawConfig, this.className));
  }
}
