/**
 * CaptioningModel: what every captioner class shares (VisionEncoderDecoder, GitForCausalLM,
 * BlipForConditionalGeneration). Every method that touches tensors is one native call that runs off the event
 * loop; calls on one model are serialized by the addon. A subclass says how its config maps to the native model
 * (a ModelFamily) and adds its own constructors.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FormatError, InvalidArgumentError, TorchCaptionError } from '../errors.js';
import { native, type NativeInputs, type NativeLoadReport, type NativeModelConfig, type NativeModelHandle, type NativeOptimizerHandle, type NativeProcessGroupHandle, type RawTensor } from '../native.js';
import { readJson } from '../json.js';
import { Tensor } from '../tensor.js';
import { resolveModelDir, SAFETENSORS_INDEX, weightFiles } from './hub.js';
import { generationDefaults, nativeGenerateOptions, validateGenerateOptions, type GenerateOptions, type GenerateOutput, type GenerationLimits } from './generation.js';

export type Device = 'cpu' | 'cuda' | `cuda:${number}` | 'auto';
export type ModelDType = 'float32' | 'bfloat16' | 'float16';

export interface LoadOptions {
  device?: Device;
  dtype?: ModelDType;
  /** Accept a checkpoint that lacks some parameters (they keep their fresh HF-style init). */
  allowMissing?: boolean;
  revision?: string;
}

/**
 * A batch for forward/backward. VisionEncoderDecoder reads `decoder_input_ids`; GIT and BLIP read `input_ids`
 * and `attention_mask` as Hugging Face's models do (their loss is then shifted: position t predicts
 * labels[t + 1]). With labels alone, every model builds its text input as the labels shifted right after the
 * start token, and position t predicts labels[t] (the same loss on the same text).
 */
export interface ForwardInputs {
  /** float32 [B, C, H, W]; give this or encoder_last_hidden_state. */
  pixel_values?: Tensor;
  /**
   * JS addition: the vision tower's last hidden state per image, float32 [B, N, D] (what forward returns as
   * encoder_last_hidden_state, or encodeImages), used instead of pixel_values: the tower does not run, and
   * everything after it (VisionEncoderDecoder's enc_to_dec_proj, GIT's visual_projection) does. This is how
   * cached encoder outputs are trained on (TrainingArguments.cache_encoder_outputs).
   */
  encoder_last_hidden_state?: Tensor;
  labels?: Tensor;
  decoder_input_ids?: Tensor;
  input_ids?: Tensor;
  attention_mask?: Tensor;
}

export interface ForwardOutput {
  loss?: number;
  /** [B, T, vocab]; GIT: [B, image tokens + T, vocab] (every position, as HF returns them). */
  logits: Tensor<'float32'>;
  /** The vision tower's last hidden state (GIT, BLIP: after its post_layernorm). */
  encoder_last_hidden_state: Tensor<'float32'>;
}

/** Things a saved model folder can carry beside the weights (processor and tokenizer). */
export interface Saveable {
  save(dir: string): Promise<void>;
}

/** The start, pad and end token ids a model builds its text inputs from and generates with (null: not set). */
export interface SpecialTokenIds {
  decoder_start_token_id: number | null;
  pad_token_id: number | null;
  eos_token_id: number | null;
}

/** How one architecture's config maps to the native model (one object per model class). */
export interface ModelFamily<C> {
  /** The class name, for messages. */
  readonly name: string;
  /** Hugging Face's defaults filled in and every value checked. */
  normalize(raw: unknown): C;
  native(c: C): NativeModelConfig;
  /** The token ids as the config holds them (where this family keeps them). */
  tokens(c: C): SpecialTokenIds;
  /** Write token ids back into the config (model.setSpecialTokens, the Trainer filling them from the tokenizer). */
  setTokens(c: C, ids: SpecialTokenIds): void;
  generation(c: C): GenerationLimits;
  /** The label smoothing the model's own loss uses when a call does not say (BLIP's config value), else 0. */
  labelSmoothing(c: C): number;
}

export function fromRaw(raw: RawTensor): Tensor {
  return Tensor.from(raw.data, raw.shape);
}

export function toRaw(t: Tensor, name: string): RawTensor {
  if (!(t instanceof Tensor)) throw new InvalidArgumentError(`Expected a Tensor for ${name} but received ${typeof t}`);
  return { dtype: t.dtype, shape: [...t.shape], data: t.data };
}

function toNativeInputs(inputs: ForwardInputs, textKey: 'decoder_input_ids' | 'input_ids'): NativeInputs {
  if (typeof inputs !== 'object' || inputs === null || (!inputs.pixel_values && !inputs.encoder_last_hidden_state)) {
    throw new InvalidArgumentError('Expected an object with pixel_values (and labels) for the model inputs');
  }
  let out: NativeInputs;
  if (inputs.encoder_last_hidden_state) {
    const h = inputs.encoder_last_hidden_state;
    if (inputs.pixel_values) throw new InvalidArgumentError('Expected pixel_values or encoder_last_hidden_state in the model inputs, not both (the states replace the vision tower)');
    if (!(h instanceof Tensor) || h.dtype !== 'float32' || h.shape.length !== 3) {
      throw new InvalidArgumentError(`Expected a float32 Tensor [B, N, D] for encoder_last_hidden_state but received ${h instanceof Tensor ? h.toString() : typeof h}`);
    }
    out = { vision_hidden: toRaw(h, 'encoder_last_hidden_state') };
  } else {
    if (!(inputs.pixel_values instanceof Tensor) || inputs.pixel_values.dtype !== 'float32') {
      throw new InvalidArgumentError(`Expected float32 pixel_values but received ${inputs.pixel_values instanceof Tensor ? inputs.pixel_values.dtype : typeof inputs.pixel_values}`);
    }
    out = { pixel_values: toRaw(inputs.pixel_values, 'pixel_values') };
  }
  const other = textKey === 'input_ids' ? 'decoder_input_ids' : 'input_ids';
  if (inputs[other]) {
    throw new InvalidArgumentError(`This model reads its text as ${textKey}, not ${other} (Hugging Face's name for it); pass ${textKey}`);
  }
  if (textKey === 'decoder_input_ids' && inputs.attention_mask) {
    throw new InvalidArgumentError('A VisionEncoderDecoder takes no attention_mask: padding after the end token is never seen by earlier positions; mark it in labels with -100');
  }
  for (const k of ['labels', textKey, 'attention_mask'] as const) {
    const t = inputs[k];
    if (t === undefined) continue;
    if (!(t instanceof Tensor) || t.dtype !== 'int64') throw new InvalidArgumentError(`Expected an int64 Tensor for ${k} but received ${t instanceof Tensor ? t.dtype : typeof t}`);
    if (k === 'labels') out.labels = toRaw(t, k);
    else if (k === 'attention_mask') out.attention_mask = toRaw(t, k);
    else out.input_ids = toRaw(t, k);
  }
  return out;
}

export function weightsOf(dir: string): string[] {
  const files = weightFiles(dir);
  if (!files.length) throw new TorchCaptionError(`No model.safetensors (or ${SAFETENSORS_INDEX} with its shards, or pytorch_model.bin) in ${dir}`);
  return files;
}

const DTYPES: readonly ModelDType[] = ['float32', 'bfloat16', 'float16'];

/**
 * The device string the addon gets: 'auto' resolved, the spelling checked, CUDA checked to be there. The
 * one place where devices are validated (the addon only asserts).
 */
export function resolveDevice(device: unknown): string {
  if (typeof device !== 'string' || !/^(cpu|cuda|cuda:\d+|auto)$/.test(device)) {
    throw new InvalidArgumentError(`Expected device 'cpu', 'cuda', 'cuda:N' or 'auto' but received ${JSON.stringify(device)}`);
  }
  if (device === 'cpu') return device;
  const info = native().buildInfo();
  if (device === 'auto') return info.cudaAvailable ? 'cuda' : 'cpu';
  if (!info.cudaAvailable) {
    throw new InvalidArgumentError(`device '${device}' was asked for but CUDA is not available in this libtorch build (run \`torch-caption doctor\`)`);
  }
  const index = device.startsWith('cuda:') ? Number(device.slice(5)) : 0;
  if (index >= info.cudaDeviceCount) {
    throw new InvalidArgumentError(`device '${device}' was asked for but this machine has ${info.cudaDeviceCount} CUDA device(s)`);
  }
  return device;
}

/** A native model built from a validated config (the modules are created off the event loop). */
export async function buildNative(config: NativeModelConfig, seed: number, device: Device, init = true): Promise<NativeModelHandle> {
  const handle = new (native().Model)(config);
  await handle.build({ seed, device: resolveDevice(device), init });
  return handle;
}

/** Load one weights file or all shards of one; a tensor is missing only when no shard has it. */
export async function loadWeightFiles(handle: NativeModelHandle, files: string[]): Promise<NativeLoadReport> {
  let missing: Set<string> | null = null;
  const unexpected = new Set<string>();
  for (const f of files) {
    const r = await handle.loadWeights(f);
    missing = missing === null ? new Set(r.missing) : new Set(r.missing.filter((n) => missing!.has(n)));
    for (const n of r.unexpected) unexpected.add(n);
  }
  return { missing: [...(missing ?? [])].sort(), unexpected: [...unexpected].sort() };
}

/** A folder's config.json, generation_config.json (when present) and weight files. */
export async function readModelFolder(dir: string): Promise<{ config: unknown; generation: Record<string, unknown> | undefined; weights: string[] }> {
  const config = await readJson(join(dir, 'config.json'), 'model config');
  const genPath = join(dir, 'generation_config.json');
  const generation = existsSync(genPath) ? await readJson<Record<string, unknown>>(genPath, 'generation config') : undefined;
  return { config, generation, weights: weightsOf(dir) };
}

export function checkLoadReport(report: NativeLoadReport, dir: string, allowMissing: boolean): void {
  const problems: string[] = [];
  if (report.missing.length && !allowMissing) problems.push(`missing: ${report.missing.join(', ')}`);
  if (report.unexpected.length) problems.push(`unexpected: ${report.unexpected.join(', ')}`);
  if (problems.length) {
    throw new FormatError(`The weights in ${dir} do not match config.json (${problems.join('; ')}).` +
      (report.missing.length ? ' Pass allowMissing: true to keep fresh weights for missing tensors.' : ''));
  }
}

/**
 * What every native-backed model class shares (the captioners and the standalone encoders/decoders): the
 * handle, the state dict, training mode, parameter counts, device and dtype moves.
 */
export abstract class NativeModule {
  /** @internal */
  readonly handle: NativeModelHandle;
  #training = false;

  /** @internal */
  protected constructor(handle: NativeModelHandle) {
    this.handle = handle;
  }

  /** Every parameter and persistent buffer by HF name (tied weights omitted, as HF saves). */
  async stateDict(): Promise<Record<string, Tensor>> {
    return mapRecord(await this.handle.stateDict(), fromRaw);
  }

  async loadStateDict(state: Record<string, Tensor>, opts: { strict?: boolean } = {}): Promise<{ missing: string[]; unexpected: string[] }> {
    const report = await this.handle.loadStateDict(mapRecord(state, (t, k) => toRaw(t, k)));
    if (opts.strict ?? true) checkLoadReport(report, 'the state dict', false);
    return report;
  }

  /** Training mode (dropout on) or evaluation mode. */
  train(on = true): this {
    this.#training = on;
    // Queued on the model's strand, so every later job sees the new mode; it cannot fail once the model
    // is built, which every model object is.
    this.handle.setTraining(on).catch(() => undefined);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  get isTraining(): boolean {
    return this.#training;
  }

  numParameters(opts: { trainableOnly?: boolean } = {}): number {
    return this.handle.numParameters(opts.trainableOnly ?? false);
  }

  get device(): string {
    return this.handle.device();
  }

  async to(device: Device, dtype: ModelDType = 'float32'): Promise<this> {
    if (!DTYPES.includes(dtype)) throw new InvalidArgumentError(`Expected dtype 'float32', 'bfloat16' or 'float16' but received ${JSON.stringify(dtype)}`);
    await this.handle.to(resolveDevice(device), dtype);
    return this;
  }
}

export abstract class CaptioningModel<C extends object = object> extends NativeModule {
  /** Parsed config.json (HF keys). Token id assignments take effect before the next native call. */
  readonly config: C;
  /** Generation defaults from generation_config.json or config.json, as transformers reads them. */
  generationConfig: Partial<GenerateOptions>;
  /** Optional processor and tokenizer written by save() beside the weights. */
  imageProcessor?: Saveable;
  tokenizer?: Saveable;
  /** @internal */
  readonly family: ModelFamily<C>;
  private warnedTruncation = false;
  /** The token ids the native model last got, as JSON: config assignments are pushed when they differ. */
  #pushedTokens: string;
  #visionPrefix: string | null = null;

  /** @internal */
  protected constructor(family: ModelFamily<C>, config: C, handle: NativeModelHandle, generationConfig: Partial<GenerateOptions>) {
    super(handle);
    this.family = family;
    this.config = config;
    this.generationConfig = generationConfig;
    this.#pushedTokens = JSON.stringify(family.tokens(config));
  }

  /** The start, pad and end token ids the model uses now (from its config). */
  get specialTokenIds(): SpecialTokenIds {
    return this.family.tokens(this.config);
  }

  /** The size of the text vocabulary (valid token ids are 0 .. vocabSize - 1). */
  get vocabSize(): number {
    return this.family.generation(this.config).vocabSize;
  }

  /**
   * Config assignments of token ids take effect as in transformers: the ids are checked and queued to the
   * native model before the next job, which runs after them (the model's jobs run in call order). With labels
   * and no text input, the start and pad ids must be set.
   */
  protected syncSpecialTokens(inputs: ForwardInputs | null): void {
    const ids = this.specialTokenIds;
    const key = JSON.stringify(ids);
    if (key !== this.#pushedTokens) {
      const vocab = this.vocabSize;
      for (const [k, v] of Object.entries(ids)) {
        if (v !== null && !(Number.isInteger(v) && v >= 0 && v < vocab)) {
          throw new InvalidArgumentError(`Expected a token id in [0, ${vocab}) or null for model.config.${k} but received ${JSON.stringify(v)}`);
        }
      }
      this.handle.setSpecialTokens(ids).catch(() => undefined); // checked above; later jobs see the ids
      this.#pushedTokens = key;
    }
    if (inputs?.labels && !inputs.decoder_input_ids && !inputs.input_ids) {
      for (const k of ['decoder_start_token_id', 'pad_token_id'] as const) {
        if (ids[k] === null) {
          throw new InvalidArgumentError(
            `${k} is not set on the model config, and the text inputs are built from the labels with it: set model.config.${k} ` +
              `(${k === 'pad_token_id' ? 'usually the eos id; GPT-2: 50256, BERT: [PAD] 0' : 'the tokenizer\'s bos id; GPT-2: 50256, BERT: [CLS] 101'}) or pass the text input ids`,
          );
        }
      }
    }
  }

  /** Hugging Face's name of this model's text input. */
  protected get textInputName(): 'decoder_input_ids' | 'input_ids' {
    return 'input_ids';
  }

  #nativeInputs(inputs: ForwardInputs): NativeInputs {
    return toNativeInputs(inputs, this.textInputName);
  }

  #labelSmoothing(value: number | undefined): number {
    const v = value ?? this.family.labelSmoothing(this.config);
    if (typeof v !== 'number' || !(v >= 0 && v < 1)) throw new InvalidArgumentError(`Expected label_smoothing in [0, 1) but received ${JSON.stringify(v)}`);
    return v;
  }

  /**
   * Teacher-forced forward pass. Without gradients by default; with `backward: true` the same pass also runs
   * backward (gradients accumulate until zeroGrad()), so a custom loop gets loss and logits from one forward
   * (two passes would differ under dropout). label_smoothing defaults to the model's own (BLIP's config), else 0.
   */
  async forward(inputs: ForwardInputs, opts: { label_smoothing?: number; backward?: boolean; loss_scale?: number } = {}): Promise<ForwardOutput> {
    this.syncSpecialTokens(inputs);
    const label_smoothing = this.#labelSmoothing(opts.label_smoothing);
    if (opts.backward) {
      if (!inputs.labels) throw new InvalidArgumentError('Expected labels for forward with backward: true (the loss needs them)');
      const out = await this.handle.backward(this.#nativeInputs(inputs), { loss_scale: opts.loss_scale ?? 1, label_smoothing, logits: true });
      return { loss: out.loss, logits: fromRaw(out.logits!) as Tensor<'float32'>, encoder_last_hidden_state: fromRaw(out.encoder_last_hidden_state!) as Tensor<'float32'> };
    }
    const out = await this.handle.forward(this.#nativeInputs(inputs), { label_smoothing, logits: true });
    return {
      ...(typeof out.loss === 'number' ? { loss: out.loss } : {}),
      logits: fromRaw(out.logits!) as Tensor<'float32'>,
      encoder_last_hidden_state: fromRaw(out.encoder_last_hidden_state) as Tensor<'float32'>,
    };
  }

  /** Forward and backward; gradients accumulate until zeroGrad(). */
  async backward(inputs: ForwardInputs, opts: { loss_scale?: number; label_smoothing?: number } = {}): Promise<{ loss: number }> {
    if (!inputs.labels) throw new InvalidArgumentError('Expected labels for backward');
    this.syncSpecialTokens(inputs);
    const out = await this.handle.backward(this.#nativeInputs(inputs), { loss_scale: opts.loss_scale ?? 1, label_smoothing: this.#labelSmoothing(opts.label_smoothing), logits: false });
    return { loss: out.loss };
  }

  /** Accumulated gradients by HF parameter name (parameters without a gradient are left out). */
  async gradients(): Promise<Record<string, Tensor>> {
    return mapRecord(await this.handle.gradients(), fromRaw);
  }

  /** Clears the gradients. Queued behind the model's running job; await it only to know it is done. */
  zeroGrad(): Promise<void> {
    return this.handle.zeroGrad();
  }

  /** Replace the gradients of the named parameters (for custom training loops). */
  async setGradients(grads: Record<string, Tensor>): Promise<void> {
    await this.handle.setGradients(mapRecord(grads, (t, k) => toRaw(t, k)));
  }

  /**
   * Write config.json, generation_config.json and model.safetensors, and the tokenizer and image processor
   * files (given here, or attached as model.tokenizer / model.imageProcessor), so that the folder is all
   * `pipeline('image-to-text', dir)` and `fromPretrained` need.
   */
  async save(dir: string, parts: { tokenizer?: Saveable; image_processor?: Saveable } = {}): Promise<void> {
    await mkdir(dir, { recursive: true });
    await this.handle.saveSafetensors(join(dir, 'model.safetensors'));
    await writeFile(join(dir, 'config.json'), JSON.stringify(this.config, null, 2) + '\n');
    await writeFile(join(dir, 'generation_config.json'), JSON.stringify(this.generationConfig, null, 2) + '\n');
    const processor = parts.image_processor ?? this.imageProcessor;
    const tokenizer = parts.tokenizer ?? this.tokenizer;
    if (processor) await processor.save(dir);
    if (tokenizer) await tokenizer.save(dir);
  }

  /**
   * Freeze (or unfreeze) the vision tower: requires_grad false on its parameters, as Hugging Face users do with
   * `model.encoder.requires_grad_(False)` (VisionEncoderDecoder), `model.vision_model` (BLIP) or
   * `model.git.image_encoder` (GIT). A frozen tower gets no gradients, an AdamW made afterwards keeps no state for
   * it, and it runs under no-grad. Resolves with the tower's parameter-name prefix and how many tensors changed.
   */
  async freezeVisionTower(frozen = true): Promise<{ prefix: string; tensors: number }> {
    if (typeof frozen !== 'boolean') throw new InvalidArgumentError(`Expected a boolean for freezeVisionTower but received ${typeof frozen}`);
    const r = await this.handle.setVisionFrozen(frozen);
    this.#visionPrefix = r.prefix;
    return r;
  }

  /** The vision tower's parameter-name prefix with its dot ('encoder.', 'git.image_encoder.', 'vision_model.'); null before freezeVisionTower told it. */
  get visionTowerPrefix(): string | null {
    return this.#visionPrefix === null ? null : `${this.#visionPrefix}.`;
  }

  /**
   * The vision tower's last hidden state for pixel values, float32 [B, N, D], without gradients and with the
   * tower in eval mode (no dropout) for this call: what forward's encoder_last_hidden_state input takes.
   */
  async encodeImages(pixel_values: Tensor): Promise<Tensor<'float32'>> {
    if (!(pixel_values instanceof Tensor) || pixel_values.dtype !== 'float32' || pixel_values.shape.length !== 4) {
      throw new InvalidArgumentError(`Expected float32 pixel_values [B, C, H, W] for encodeImages but received ${pixel_values instanceof Tensor ? pixel_values.toString() : typeof pixel_values}`);
    }
    return fromRaw(await this.handle.encodeImages(toRaw(pixel_values, 'pixel_values'))) as Tensor<'float32'>;
  }

  /**
   * The prompt ids `generate({ input_ids })` takes for a text prompt, as transformers' image-to-text pipeline
   * builds them (GIT: [CLS] + the prompt's ids; BLIP: the processor's [CLS] ... [SEP]). Models without
   * conditional captioning (VisionEncoderDecoder) refuse a prompt.
   */
  promptInputIds(tokenizer: PromptTokenizer, prompt: string): number[] {
    void tokenizer;
    throw new InvalidArgumentError(`${this.family.name} does not support conditional captioning (a text prompt: ${JSON.stringify(prompt)}); GitForCausalLM and BlipForConditionalGeneration do`);
  }

  /**
   * The rows decoding starts from for a user's `input_ids` prompt (HF's generate(pixel_values, input_ids=...)),
   * one per image. GIT feeds them as given; BLIP replaces the first token by [DEC] and drops the last ([SEP]).
   */
  protected promptStartIds(rows: number[][]): number[][] {
    return rows;
  }

  /** The complete options a generate call with `options` would use (defaults merged, every value checked). */
  generationOptions(options: Partial<GenerateOptions> = {}, startLength = 1): GenerateOptions {
    return validateGenerateOptions({ ...this.generationConfig, ...options }, { ...this.family.generation(this.config), ...this.specialTokenIds }, startLength);
  }

  /**
   * Caption token ids for a batch of images, with transformers' generate semantics. `input_ids` (a Tensor
   * [B, L] or [1, L], or number arrays) is a prompt: decoding continues it, and the returned sequences start with it.
   */
  async generate(pixel_values: Tensor, options: Partial<GenerateOptions> & { input_ids?: Tensor | number[] | number[][] } = {}): Promise<GenerateOutput> {
    this.syncSpecialTokens(null);
    const { input_ids, ...rest } = options;
    const batch = pixel_values instanceof Tensor ? pixel_values.shape[0] ?? 0 : 0;
    const start = input_ids === undefined ? null : this.promptStartIds(promptRows(input_ids, batch, this.vocabSize));
    const o = this.generationOptions(rest, start?.[0]?.length ?? 1);
    const out = await this.handle.generate(toRaw(pixel_values, 'pixel_values'), nativeGenerateOptions(o, start));
    const sequences = fromRaw(out.sequences).toNested2D();
    const startLength = start?.[0]?.length ?? 1;
    if (!this.warnedTruncation && o.eos_token_id !== null && sequences.some((s) => s.length >= o.max_length && !s.slice(startLength).includes(o.eos_token_id!))) {
      this.warnedTruncation = true;
      process.emitWarning(`A caption reached max_length = ${o.max_length} tokens without an end token and was cut off; pass a larger max_length (or max_new_tokens).`, { code: 'TORCH_CAPTION_TRUNCATED' });
    }
    return {
      sequences,
      ...(out.sequences_scores ? { sequences_scores: fromRaw(out.sequences_scores).toArray() } : {}),
    };
  }

  // ---- training-loop building blocks (the Trainer uses these; custom loops may too)

  /** One optimizer step in one native call: forward+backward per micro-batch, clipping, AdamW, zeroing. */
  async trainStep(microBatches: readonly ForwardInputs[], opts: TrainStepOptions): Promise<TrainStepResult> {
    if (!Array.isArray(microBatches) || microBatches.length === 0) throw new InvalidArgumentError('Expected at least one micro-batch for trainStep');
    if (opts.optimizer?.model !== this) throw new InvalidArgumentError('Expected an AdamW over this model for trainStep (the optimizer was made for another model)');
    const autocast = opts.autocast ?? '';
    checkAutocast(autocast, this.device);
    const lossScale = opts.loss_scale ?? 1;
    if (!(lossScale > 0) || !Number.isFinite(lossScale)) throw new InvalidArgumentError(`Expected a positive finite loss_scale but received ${lossScale}`);
    const seed = opts.seed ?? null;
    if (seed !== null && !(Number.isInteger(seed) && seed >= 0)) throw new InvalidArgumentError(`Expected a non-negative integer seed but received ${seed}`);
    this.syncSpecialTokens(microBatches[0] ?? null);
    const micro = microBatches.map((b, i) => {
      const raw = this.#nativeInputs(b);
      if (!raw.labels) throw new InvalidArgumentError(`Expected labels in micro-batch ${i} of trainStep`);
      return raw;
    });
    return this.handle.trainStep(micro, {
      optimizer: opts.optimizer.handle,
      max_grad_norm: opts.max_grad_norm ?? 0,
      learning_rate: opts.learning_rate ?? opts.optimizer.learningRate,
      label_smoothing: this.#labelSmoothing(opts.label_smoothing),
      autocast,
      loss_scale: lossScale,
      seed,
      ...dataParallel(opts),
    });
  }

  /**
   * Copies rank 0's parameters and buffers to every rank of `group` (what DistributedDataParallel does when it
   * wraps a model): replicas then start identical. Every rank must call it.
   */
  async broadcastState(group: TrainStepProcessGroup, options: { bucket_cap_mb?: number } = {}): Promise<void> {
    await this.handle.broadcastState(group.handle, bucketBytes(options.bucket_cap_mb));
  }

  /** Load one weights file (model.safetensors, a shard of it, or pytorch_model.bin) into this model. */
  async loadWeightsFile(path: string): Promise<{ missing: string[]; unexpected: string[] }> {
    return this.handle.loadWeights(path);
  }

  /** Set the start/pad/eos token ids on the config (where this architecture keeps them) and on the native model. */
  async setSpecialTokens(ids: { decoder_start_token_id: number; pad_token_id: number; eos_token_id: number }): Promise<void> {
    this.family.setTokens(this.config, ids);
    this.syncSpecialTokens(null);
    await this.handle.setSpecialTokens(this.specialTokenIds);
  }
}

/** What a text prompt needs of a tokenizer: its ids, and the special tokens its encode() wraps them in. */
export interface PromptTokenizer {
  encode(text: string): number[];
  readonly cls_token_id?: number | null;
  readonly special_tokens_wrap?: { readonly start: readonly number[]; readonly end: readonly number[] } | null;
}

/** The prompt's own ids: encode() without the special tokens it wraps them in. */
export function promptTextIds(tokenizer: PromptTokenizer, prompt: string): number[] {
  if (typeof prompt !== 'string' || prompt.length === 0) throw new InvalidArgumentError(`Expected a non-empty string for prompt but received ${JSON.stringify(prompt)}`);
  const ids = tokenizer.encode(prompt);
  const wrap = tokenizer.special_tokens_wrap;
  return wrap ? ids.slice(wrap.start.length, ids.length - wrap.end.length) : ids;
}

/** A prompt as rows of token ids, one per image (a single row is used for every image). */
function promptRows(ids: Tensor | number[] | number[][], batch: number, vocab: number): number[][] {
  let rows: number[][];
  if (ids instanceof Tensor) {
    if (ids.dtype !== 'int64' || ids.shape.length !== 2) throw new InvalidArgumentError(`Expected an int64 Tensor [B, L] for input_ids but received ${ids.toString()}`);
    rows = ids.toNested2D();
  } else if (Array.isArray(ids) && ids.every((v) => typeof v === 'number')) {
    rows = [ids as number[]];
  } else if (Array.isArray(ids) && ids.every((r) => Array.isArray(r))) {
    rows = (ids as number[][]).map((r) => [...r]);
  } else {
    throw new InvalidArgumentError('Expected input_ids as a Tensor [B, L], an array of token ids or an array of rows');
  }
  if (rows.length === 1 && batch > 1) rows = Array.from({ length: batch }, () => [...rows[0]!]);
  if (rows.length !== batch) throw new InvalidArgumentError(`Expected ${batch} rows of input_ids (one per image) or one row for all, but received ${rows.length}`);
  const len = rows[0]?.length ?? 0;
  if (len === 0 || rows.some((r) => r.length !== len)) throw new InvalidArgumentError('Expected non-empty input_ids rows of one length (pad prompts to one length)');
  for (const r of rows) {
    for (const t of r) if (!(Number.isInteger(t) && t >= 0 && t < vocab)) throw new InvalidArgumentError(`Expected token ids in [0, ${vocab}) in input_ids but received ${t}`);
  }
  return rows;
}

/** What trainStep needs of an optimizer: an AdamW over the same model. */
export interface TrainStepOptimizer {
  /** @internal */
  readonly handle: NativeOptimizerHandle;
  /** @internal */
  readonly model: unknown;
  readonly learningRate: number;
}

export interface TrainStepOptions {
  optimizer: TrainStepOptimizer;
  /** Clip the global gradient norm to this (0: no clipping). */
  max_grad_norm?: number;
  /** Default: the optimizer's learning rate. */
  learning_rate?: number;
  /** Default: the model's own (BLIP's config), else 0. */
  label_smoothing?: number;
  /** Mixed precision: autocast the forward pass ('' = float32). float16 needs CUDA. */
  autocast?: AutocastDType;
  /** Loss scale (GradScaler); gradients are unscaled before clipping, and an overflow skips the update. */
  loss_scale?: number;
  /** Reseed dropout for this step (resumable runs draw the same masks). */
  seed?: number | null;
  /**
   * Data-parallel: sum the step's label-token count and, after the last micro-batch's backward, the gradients
   * over the ranks of this group (distributed.init()), so that every rank applies the same update.
   */
  process_group?: TrainStepProcessGroup | null;
  /** Ask every rank to stop after this step (Ctrl-C on one rank): the result's `stop` says whether any rank asked. */
  stop?: boolean;
  /** Debug check: compare a checksum of the weights across ranks after the step; a difference throws DistributedError. */
  check_replicas?: boolean;
  /** Largest gradient all-reduce buffer, in MB (HF's ddp_bucket_cap_mb; default 25). */
  bucket_cap_mb?: number;
}

/** What trainStep needs of a process group: lib/train/distributed.ts's ProcessGroup. */
export interface TrainStepProcessGroup {
  /** @internal */
  readonly handle: NativeProcessGroupHandle;
  readonly worldSize: number;
}

function bucketBytes(mb: number | undefined): number {
  const v = mb ?? 25;
  if (!(typeof v === 'number' && Number.isFinite(v) && v > 0)) throw new InvalidArgumentError(`Expected a positive bucket_cap_mb but received ${JSON.stringify(mb)}`);
  return Math.max(1, Math.round(v * 1024 * 1024));
}

function dataParallel(opts: TrainStepOptions) {
  const group = opts.process_group ?? null;
  if (group !== null && (typeof group !== 'object' || !group.handle)) throw new InvalidArgumentError('Expected a ProcessGroup from distributed.init() for process_group');
  return { process_group: group ? group.handle : null, stop: opts.stop === true, check_replicas: opts.check_replicas === true, bucket_bytes: bucketBytes(opts.bucket_cap_mb) };
}

export interface TrainStepResult {
  /** Mean loss over every label token of the step (all micro-batches, all ranks). */
  loss: number;
  /** Global gradient norm before clipping. */
  grad_norm: number;
  /** True when the update was not applied (non-finite gradients). */
  skipped: boolean;
  /** True when this or (data-parallel) any rank asked to stop after this step. */
  stop: boolean;
  /** Data-parallel: milliseconds this rank spent in the step's collectives (waiting for slower ranks included). */
  comm_ms: number;
  /** Data-parallel: bytes of gradient buffers all-reduced in the step (a ring sends about 2(W-1)/W of them per rank). */
  comm_bytes: number;
}

export type AutocastDType = '' | 'bfloat16' | 'float16';

/**
 * Where mixed precision runs: bfloat16 on CPU and CUDA, float16 on CUDA only. The one check of it (the
 * addon only asserts); `names` lets the Trainer word the message in TrainingArguments terms.
 */
export function checkAutocast(
  autocast: unknown,
  device: string,
  names: { fp16: string; bf16: string; mixed: string } = { fp16: 'fp16 mixed precision', bf16: "use bf16 on CPU (autocast: 'bfloat16')", mixed: 'mixed precision' },
): void {
  if (autocast !== '' && autocast !== 'bfloat16' && autocast !== 'float16') {
    throw new InvalidArgumentError(`Expected autocast 'bfloat16', 'float16' or '' but received ${JSON.stringify(autocast)}`);
  }
  if (autocast === '') return;
  if (!device.startsWith('cuda') && !device.startsWith('cpu')) {
    throw new InvalidArgumentError(`${names.mixed} is supported on CPU and CUDA devices, not on ${device}`);
  }
  if (autocast === 'float16' && !device.startsWith('cuda')) {
    throw new InvalidArgumentError(`${names.fp16} needs a CUDA device but the model is on ${device}; ${names.bf16}`);
  }
}

export function mapRecord<A, B>(rec: Record<string, A>, f: (a: A, key: string) => B): Record<string, B> {
  const out: Record<string, B> = {};
  for (const [k, v] of Object.entries(rec)) out[k] = f(v, k);
  return out;
}

/** Read a safetensors file or pytorch_model.bin into raw tensors. */
export async function readWeights(path: string): Promise<Record<string, RawTensor>> {
  if (path.endsWith('.bin')) return native().readTorchPickle(path);
  return (await native().readSafetensors(path)).tensors;
}

/** A folder (or hub id) loaded for a family: its config, the native model with the weights in, the generation defaults. */
export async function loadPretrained<C extends object>(family: ModelFamily<C>, ref: string, opts: LoadOptions): Promise<{ config: C; handle: NativeModelHandle; generation: Partial<GenerateOptions> }> {
  const dir = await resolveModelDir(ref, { revision: opts.revision });
  const folder = await readModelFolder(dir);
  const config = family.normalize(folder.config);
  // No random init of tensors the checkpoint overwrites (HF's fast init); what it lacks is initialized after.
  const handle = await buildNative(family.native(config), 0, 'cpu', false);
  const report = await loadWeightFiles(handle, folder.weights);
  checkLoadReport(report, dir, opts.allowMissing ?? false);
  if (report.missing.length) await handle.initWeights({ seed: 0, only: report.missing });
  if ((opts.device ?? 'cpu') !== 'cpu' || (opts.dtype ?? 'float32') !== 'float32') await handle.to(resolveDevice(opts.device ?? 'cpu'), opts.dtype ?? 'float32');
  return { config, handle, generation: folderGenerationDefaults(family, config, folder.generation) };
}

/** A fresh model of a family with Hugging Face style random initialisation (deterministic for a seed). */
export async function buildFromConfig<C extends object>(family: ModelFamily<C>, raw: unknown, opts: { seed?: number; device?: Device }): Promise<{ config: C; handle: NativeModelHandle; generation: Partial<GenerateOptions> }> {
  const config = family.normalize(raw);
  const handle = await buildNative(family.native(config), opts.seed ?? 0, opts.device ?? 'cpu');
  return { config, handle, generation: folderGenerationDefaults(family, config, undefined) };
}

/** The generation defaults of a loaded folder, with the family's token ids filled in. */
export function folderGenerationDefaults<C extends object>(family: ModelFamily<C>, config: C, generation: Record<string, unknown> | undefined): Partial<GenerateOptions> {
  return generationDefaults(config as Record<string, unknown>, generation, family.tokens(config));
}
