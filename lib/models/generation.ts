/**
 * Generation options with transformers' names and defaults. Defaults come from generation_config.json
 * when the folder has one, else from config.json (transformers 4.9 reads them from the model config),
 * and per-call options override both.
 */
import { InvalidArgumentError } from '../errors.js';
import type { NativeGenerateOptions, NativeSpecialTokens } from '../native.js';

/** What generation needs to know of a model: its vocabulary, its text positions and its fallback start token. */
export interface GenerationLimits {
  vocabSize: number;
  /** The longest sequence (start and prompt tokens included) the text positions allow. */
  maxLength: number;
  /** The config field that sets maxLength, for messages. */
  positionsField: string;
  /** Used as the start token when decoder_start_token_id is not set (transformers' fallback). */
  bos_token_id: number | null;
}

export interface GenerateOptions {
  max_length: number;
  /** When set, max_length = start tokens (1, or the prompt's length) + max_new_tokens. */
  max_new_tokens?: number;
  min_length: number;
  num_beams: number;
  num_return_sequences: number;
  length_penalty: number;
  early_stopping: boolean;
  no_repeat_ngram_size: number;
  repetition_penalty: number;
  bad_words_ids: number[][] | null;
  do_sample: boolean;
  temperature: number;
  top_k: number;
  top_p: number;
  seed: number;
  decoder_start_token_id: number | null;
  eos_token_id: number | null;
  pad_token_id: number | null;
}

export interface GenerateOutput {
  /** Token ids per returned sequence: start token (or the prompt) first, padded with pad_token_id to the longest. */
  sequences: number[][];
  /** Beam search only: the length-penalised log-probability of each returned sequence. */
  sequences_scores?: number[];
}

export const GENERATION_DEFAULTS: GenerateOptions = {
  max_length: 20, min_length: 0, num_beams: 1, num_return_sequences: 1, length_penalty: 1.0, early_stopping: false,
  no_repeat_ngram_size: 0, repetition_penalty: 1.0, bad_words_ids: null, do_sample: false, temperature: 1.0, top_k: 50,
  top_p: 1.0, seed: 0, decoder_start_token_id: null, eos_token_id: null, pad_token_id: null,
};

const KEYS = Object.keys(GENERATION_DEFAULTS).concat(['max_new_tokens']);

/** The generation defaults a checkpoint carries: generation_config.json, else config.json, then the model's token ids. */
export function generationDefaults(config: Record<string, unknown>, genConfig: Record<string, unknown> | undefined, tokens: NativeSpecialTokens): Partial<GenerateOptions> {
  const source = genConfig ?? config;
  const out: Record<string, unknown> = {};
  for (const k of KEYS) if (source[k] !== undefined && source[k] !== null && k !== 'seed') out[k] = source[k];
  for (const k of ['decoder_start_token_id', 'eos_token_id', 'pad_token_id'] as const) {
    if (out[k] === undefined && tokens[k] !== null) out[k] = tokens[k];
  }
  return out as Partial<GenerateOptions>;
}

function check(cond: boolean, what: string, key: string, value: unknown): void {
  if (!cond) throw new InvalidArgumentError(`Expected ${what} for ${key} but received ${JSON.stringify(value)}`);
}

/**
 * Merge with defaults and validate; unknown keys fail with the nearest valid name. `model` gives the limits and
 * the token ids used when the options leave them out; `startLength` is the prompt's length (1: the start token).
 */
export function validateGenerateOptions(opts: Partial<GenerateOptions>, model: GenerationLimits & NativeSpecialTokens, startLength = 1): GenerateOptions & { max_length: number } {
  for (const k of Object.keys(opts)) {
    if (!KEYS.includes(k)) {
      const near = KEYS.find((c) => c.replace(/_/g, '') === k.replace(/_/g, '').toLowerCase() || c.startsWith(k) || k.startsWith(c));
      throw new InvalidArgumentError(`Unknown generation option '${k}'${near ? `; did you mean '${near}'?` : ''}`);
    }
  }
  const o: GenerateOptions = { ...GENERATION_DEFAULTS, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) } as GenerateOptions;
  if (o.max_new_tokens !== undefined) {
    check(Number.isInteger(o.max_new_tokens) && o.max_new_tokens >= 0, 'a non-negative integer', 'max_new_tokens', o.max_new_tokens);
    o.max_length = startLength + o.max_new_tokens;
  }
  for (const k of ['max_length', 'num_beams', 'num_return_sequences'] as const) check(Number.isInteger(o[k]) && o[k] >= 1, 'a positive integer', k, o[k]);
  for (const k of ['min_length', 'no_repeat_ngram_size', 'top_k'] as const) check(Number.isInteger(o[k]) && o[k] >= 0, 'a non-negative integer', k, o[k]);
  check(typeof o.early_stopping === 'boolean', 'true or false', 'early_stopping', o.early_stopping);
  check(typeof o.do_sample === 'boolean', 'true or false', 'do_sample', o.do_sample);
  check(o.temperature > 0, 'a positive number', 'temperature', o.temperature);
  check(o.top_p > 0 && o.top_p <= 1, 'a number in (0, 1]', 'top_p', o.top_p);
  check(o.repetition_penalty > 0, 'a positive number', 'repetition_penalty', o.repetition_penalty);
  check(Number.isInteger(o.seed) && o.seed >= 0, 'a non-negative integer', 'seed', o.seed);
  if (o.num_beams > 1 && o.do_sample) throw new InvalidArgumentError('Beam sampling (num_beams > 1 with do_sample) is not supported yet');
  if (!o.do_sample && o.num_return_sequences > o.num_beams) {
    throw new InvalidArgumentError(`num_return_sequences (${o.num_return_sequences}) must be <= num_beams (${o.num_beams}) unless do_sample is true`);
  }
  o.decoder_start_token_id ??= model.decoder_start_token_id ?? model.bos_token_id;
  o.eos_token_id ??= model.eos_token_id;
  o.pad_token_id ??= model.pad_token_id ?? o.eos_token_id;
  if (o.decoder_start_token_id === null) {
    throw new InvalidArgumentError('decoder_start_token_id is not set on the model config; set model.config.decoder_start_token_id (GPT-2: 50256) or pass it to generate');
  }
  const vocab = model.vocabSize;
  if (o.bad_words_ids !== null) {
    const ok = Array.isArray(o.bad_words_ids) && o.bad_words_ids.every((seq) => Array.isArray(seq) && seq.length > 0 && seq.every((t) => Number.isInteger(t) && t >= 0 && t < vocab));
    check(ok, `an array of non-empty arrays of token ids in [0, ${vocab})`, 'bad_words_ids', o.bad_words_ids);
  }
  for (const k of ['decoder_start_token_id', 'eos_token_id', 'pad_token_id'] as const) {
    const v = o[k];
    if (v !== null) check(Number.isInteger(v) && v >= 0 && v < vocab, `a token id in [0, ${vocab})`, k, v);
  }
  if (o.max_length > model.maxLength) {
    throw new InvalidArgumentError(`max_length (${o.max_length}) exceeds the ${model.maxLength} text positions of the model (its ${model.positionsField})`);
  }
  return o;
}

/** The complete, validated options the native generate reads (it has no defaults of its own). */
export function nativeGenerateOptions(o: GenerateOptions, startIds: number[][] | null = null): NativeGenerateOptions {
  if (o.decoder_start_token_id === null) throw new InvalidArgumentError('decoder_start_token_id is not set'); // validateGenerateOptions ensures it
  return {
    max_length: o.max_length, min_length: o.min_length, num_beams: o.num_beams, num_return_sequences: o.num_return_sequences,
    no_repeat_ngram_size: o.no_repeat_ngram_size, length_penalty: o.length_penalty, repetition_penalty: o.repetition_penalty,
    early_stopping: o.early_stopping, do_sample: o.do_sample, temperature: o.temperature, top_k: o.top_k, top_p: o.top_p, seed: o.seed,
    decoder_start_token_id: o.decoder_start_token_id, eos_token_id: o.eos_token_id, pad_token_id: o.pad_token_id,
    bad_words_ids: (o.bad_words_ids ?? []).map((ids) => [...ids]),
    start_ids: startIds,
  };
}
