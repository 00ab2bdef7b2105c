/**
 * Tokenizer: Hugging Face fast tokenizers (the `tokenizers` Rust library) for the decoder families that
 * captioning models use: BERT WordPiece (BertTokenizerFast), RoBERTa byte-level BPE (RobertaTokenizerFast),
 * GPT-2 byte-level BPE (GPT2TokenizerFast), and any other tokenizer.json the library loads (e.g. the demo's
 * word-level one).
 *
 * Loading: tokenizer.json when present; else the legacy files, converted into the tokenizer.json transformers'
 * converters build (see tokenizer-families.ts): vocab.txt (BERT), vocab.json + merges.txt (RoBERTa or GPT-2,
 * told apart by tokenizer_config.json's tokenizer_class, config.json's model_type, else the vocabulary). Special
 * tokens and settings come from tokenizer_config.json / special_tokens_map.json, with the slow tokenizer
 * classes' defaults for tokens neither names.
 *
 * Encoding runs entirely in the library: added/special-token splitting, normalizer, pre-tokenizer, model and
 * post-processor. The library's encode is asynchronous only; `encodeAsync` / `encodeBatchAsync` call it
 * directly, and the synchronous `encode` / `encodeBatch` / `tokenize` run the same tokenizer.json in a worker
 * thread and block until it answers (tokenizer-sync.ts). Results are cached per text. Decoding is synchronous:
 * ids -> tokens here, then the library's decoder (ByteLevel, WordPiece, ...), then transformers'
 * clean_up_tokenization when asked.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer as RustTokenizer, type Decoder } from 'tokenizers';
import { expected, FormatError, InvalidArgumentError, UnsupportedConfigError } from '../errors.js';
import { readJsonObject } from '../json.js';
import { Tensor } from '../tensor.js';
import {
  bertJson, checkAddedTokensFile, checkVocab, containsType, detectFamily, FAMILY_CLASS, familyOfJson, gpt2Json, isRecord, parseMergesText, parseVocabTxt,
  robertaJson, SPECIAL_NAMES, specialTokens, wrapOfPostProcessor,
  type AddedTokenInfo, type SpecialName, type SpecialTokens, type SpecialTokensWrap, type TokenizerFamily,
} from './tokenizer-families.js';
import { SyncEncoder } from './tokenizer-sync.js';

export type { AddedTokenInfo, SpecialTokensWrap, TokenizerFamily } from './tokenizer-families.js';

export interface DecodeOptions {
  /** Drop special tokens (`<|endoftext|>`, `[CLS]`, `[UNK]`, ...: every special added token). Default false. */
  skip_special_tokens?: boolean;
  /**
   * Apply transformers' `clean_up_tokenization` (" ." -> ".", " 's" -> "'s", " n't" -> "n't", ...). Default: the
   * tokenizer's `clean_up_tokenization_spaces` (tokenizer_config.json's value, else true: the transformers 4.x
   * default the golden fixtures were made with).
   */
  clean_up_tokenization_spaces?: boolean;
}

export interface EncodeOptions {
  /**
   * Let the post-processor add the family's special tokens: `[CLS] ... [SEP]` (BERT), `<s> ... </s>` (RoBERTa);
   * GPT-2 adds none. Default true, as in Hugging Face.
   */
  add_special_tokens?: boolean;
}

export type TruncationStrategy = boolean | 'longest_first' | 'only_first' | 'do_not_truncate';
export type PaddingStrategy = boolean | 'longest' | 'max_length' | 'do_not_pad';

export interface BatchEncodeOptions extends EncodeOptions {
  /** Length to truncate to / pad to ('max_length'). Default: model_max_length where one is needed. */
  max_length?: number;
  /** Truncate each text to max_length tokens (true / 'longest_first' / 'only_first'), special tokens kept. Default false. */
  truncation?: TruncationStrategy;
  /** true / 'longest': pad to the longest text; 'max_length': pad to max_length. Default false (ragged rows). */
  padding?: PaddingStrategy;
  /** Side to pad on. Default: the tokenizer's padding_side ('right' unless tokenizer_config.json says left). */
  padding_side?: 'right' | 'left';
}

export interface BatchEncoding {
  input_ids: number[][];
  attention_mask: number[][];
}

/** call()'s options: batchEncode's (HF names and semantics), plus HF's return_tensors. */
export interface TokenizerCallOptions extends BatchEncodeOptions {
  /**
   * 'pt': return int64 Tensors [batch, length] (a single text gives [1, length]), as HF's `return_tensors="pt"`.
   * The rows must then have one length (pad, or truncate to a common length). Default: plain arrays.
   */
  return_tensors?: 'pt' | null;
}

/** call() of one text: the ids and mask of that text (HF returns flat lists for a single string). */
export interface SingleEncoding {
  input_ids: number[];
  attention_mask: number[];
}

/** call() with return_tensors: 'pt'. */
export interface TensorBatchEncoding {
  /** int64 [batch, length]. */
  input_ids: Tensor<'int64'>;
  /** int64 [batch, length]: 1 on tokens, 0 on padding. */
  attention_mask: Tensor<'int64'>;
}

export interface TokenizerLoadOptions {
  /** Overrides the default of decode()'s clean_up_tokenization_spaces. */
  clean_up_tokenization_spaces?: boolean;
}

/** Everything immutable a Tokenizer shares with the copies withPadToken() makes. */
interface Core {
  family: TokenizerFamily;
  /** The model type of tokenizer.json (BPE, WordPiece, WordLevel, Unigram). */
  modelType: string;
  /** tokenizer.json as it will be saved. */
  json: Record<string, unknown>;
  /** The legacy vocabulary files it was converted from (written back byte for byte on save). */
  files: { name: string; text: string }[];
  vocab: Map<string, number>;
  idToToken: Map<number, string>;
  added: AddedTokenInfo[];
  /** null: tokens are joined with spaces, as the library does without a decoder. */
  decoder: Decoder | null;
  baseVocabSize: number;
  fullVocabSize: number;
  wrap: SpecialTokensWrap | null;
  sync: SyncEncoder;
  /** The main-thread instance, for the async API (created on first use). */
  rust: RustTokenizer;
  /** ids per text: [0] without special tokens, [1] with. */
  cache: [Map<string, readonly number[]>, Map<string, readonly number[]>];
}

const CACHE_LIMIT = 100_000;

/** transformers' clean_up_tokenization (same list in 4.9 and today). */
export function cleanUpTokenization(s: string): string {
  return s
    .replaceAll(' .', '.')
    .replaceAll(' ?', '?')
    .replaceAll(' !', '!')
    .replaceAll(' ,', ',')
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}

async function readJsonIfExists(file: string): Promise<Record<string, unknown>> {
  return existsSync(file) ? readJsonObject(file) : {};
}

function addedTokenFromJson(t: unknown, file: string): AddedTokenInfo {
  if (!isRecord(t) || typeof t.id !== 'number' || typeof t.content !== 'string') {
    throw new FormatError(`Cannot parse ${file}: bad added_tokens entry ${JSON.stringify(t)?.slice(0, 80)}`);
  }
  return {
    id: t.id,
    content: t.content,
    special: t.special === true,
    lstrip: t.lstrip === true,
    rstrip: t.rstrip === true,
    single_word: t.single_word === true,
    normalized: t.normalized === true,
  };
}

function parseJsonText(text: string, file: string): unknown {
  try {
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (err) {
    throw new FormatError(`Cannot parse ${file}: ${(err as Error).message}`, { cause: err });
  }
}

function checkText(text: unknown, name = 'text'): string {
  if (typeof text !== 'string') expected('a string', name, text);
  return text as string;
}

function checkEncodeOptions(opts: EncodeOptions, what: string): boolean {
  if (opts === null || typeof opts !== 'object') expected('an options object', `${what} options`, opts);
  const add = opts.add_special_tokens ?? true;
  if (typeof add !== 'boolean') expected('a boolean', 'add_special_tokens', add);
  return add;
}

export class Tokenizer {
  readonly #core: Core;
  readonly #special: SpecialTokens;
  readonly #config: Record<string, unknown>;
  readonly #cleanUp: boolean;
  readonly #modelMaxLength: number;
  readonly #paddingSide: 'right' | 'left';

  private constructor(core: Core, special: SpecialTokens, config: Record<string, unknown>, cleanUp: boolean) {
    this.#core = core;
    this.#special = special;
    this.#config = config;
    this.#cleanUp = cleanUp;
    const mml = config.model_max_length;
    this.#modelMaxLength = typeof mml === 'number' && Number.isInteger(mml) && mml > 0 && mml < Number.MAX_SAFE_INTEGER ? mml : Number.MAX_SAFE_INTEGER;
    this.#paddingSide = config.padding_side === 'left' ? 'left' : 'right';
  }

  /**
   * Load from a Hugging Face folder: tokenizer.json if present, else vocab.txt (BERT) or vocab.json + merges.txt
   * (RoBERTa / GPT-2); special tokens and settings from tokenizer_config.json / special_tokens_map.json.
   */
  static async fromPretrained(dir: string, opts: TokenizerLoadOptions = {}): Promise<Tokenizer> {
    if (typeof dir !== 'string') expected('a folder path', 'Tokenizer.fromPretrained dir', dir);
    if (opts === null || typeof opts !== 'object') expected('an options object', 'Tokenizer.fromPretrained options', opts);
    if (opts.clean_up_tokenization_spaces !== undefined && typeof opts.clean_up_tokenization_spaces !== 'boolean') {
      expected('a boolean', 'clean_up_tokenization_spaces', opts.clean_up_tokenization_spaces);
    }
    const config = await readJsonIfExists(join(dir, 'tokenizer_config.json'));
    const map = await readJsonIfExists(join(dir, 'special_tokens_map.json'));
    const tokFile = join(dir, 'tokenizer.json');
    const vocabJson = join(dir, 'vocab.json');
    const vocabTxt = join(dir, 'vocab.txt');
    const mergesFile = join(dir, 'merges.txt');
    // added_tokens.json: tokens added on top of a legacy vocabulary file (e.g. BLIP's [DEC] 30522, [ENC] 30523).
    const addedFile = join(dir, 'added_tokens.json');
    const fileAdded = async (vocab: Record<string, number>) =>
      existsSync(addedFile) ? checkAddedTokensFile(parseJsonText(await readFile(addedFile, 'utf8'), addedFile), vocab, addedFile) : {};
    const modelConfig = async () => {
      try {
        return await readJsonIfExists(join(dir, 'config.json'));
      } catch {
        return {}; // only a hint for the family
      }
    };

    if (existsSync(tokFile)) {
      const json = await readJsonObject(tokFile);
      let family = detectFamily(config, await modelConfig(), 'tokenizer.json');
      if (family === 'other') family = familyOfJson(json);
      return Tokenizer.#assemble(family, json, [], tokFile, config, map, dir, opts);
    }
    if (existsSync(vocabJson) && existsSync(mergesFile)) {
      const [vocabText, mergesText] = await Promise.all([readFile(vocabJson, 'utf8'), readFile(mergesFile, 'utf8')]);
      const vocab = checkVocab(parseJsonText(vocabText, vocabJson), vocabJson);
      const merges = parseMergesText(mergesText, mergesFile);
      const family = detectFamily(config, await modelConfig(), 'vocab.json', vocab) === 'roberta' ? 'roberta' : 'gpt2';
      const special = specialTokens(family, config, map);
      const extra = await fileAdded(vocab);
      const json = family === 'roberta' ? robertaJson(vocab, merges, special, config, map, vocabJson, extra) : gpt2Json(vocab, merges, special, config, map, extra);
      const files = [{ name: 'vocab.json', text: vocabText }, { name: 'merges.txt', text: mergesText }];
      return Tokenizer.#assemble(family, json, files, vocabJson, config, map, dir, opts);
    }
    if (existsSync(vocabTxt)) {
      const text = await readFile(vocabTxt, 'utf8');
      const vocab = parseVocabTxt(text);
      const special = specialTokens('bert', config, map);
      const json = bertJson(vocab, special, config, map, vocabTxt, await fileAdded(vocab));
      return Tokenizer.#assemble('bert', json, [{ name: 'vocab.txt', text }], vocabTxt, config, map, dir, opts);
    }
    throw new InvalidArgumentError(
      `Expected a folder with tokenizer.json, or vocab.json and merges.txt, or vocab.txt, for Tokenizer.fromPretrained but received string ${JSON.stringify(dir)}`,
    );
  }

  /**
   * A tokenizer from the contents of a tokenizer.json (and, optionally, tokenizer_config.json), without
   * files: for tokenizers built in memory, such as the demo's word-level one.
   */
  static fromTokenizerJson(json: Record<string, unknown>, config: Record<string, unknown> = {}, opts: TokenizerLoadOptions = {}): Tokenizer {
    if (!isRecord(json)) expected('a tokenizer.json object', 'Tokenizer.fromTokenizerJson json', json);
    if (!isRecord(config)) expected('a tokenizer_config.json object', 'Tokenizer.fromTokenizerJson config', config);
    let family = detectFamily(config, {}, 'tokenizer.json');
    if (family === 'other') family = familyOfJson(json);
    return Tokenizer.#assemble(family, json, [], 'tokenizer.json', config, {}, 'memory', opts);
  }

  static #assemble(
    family: TokenizerFamily, json: Record<string, unknown>, files: Core['files'], file: string, config: Record<string, unknown>,
    map: Record<string, unknown>, dir: string, opts: TokenizerLoadOptions,
  ): Tokenizer {
    const core = Tokenizer.#buildCore(family, json, files, file);
    const special = specialTokens(family, config, map);
    for (const name of SPECIAL_NAMES) {
      const t = special[name];
      if (t === null || core.vocab.has(t)) continue;
      // A class default the vocabulary lacks (e.g. GPT-2's <|endoftext|> in another BPE) is no token at all.
      if (!(name in config) && !(name in map)) special[name] = null;
      else throw new FormatError(`${name} ${JSON.stringify(t)} of ${dir} is not in the vocabulary`);
    }
    const cleanUp = opts.clean_up_tokenization_spaces ?? (typeof config.clean_up_tokenization_spaces === 'boolean' ? config.clean_up_tokenization_spaces : true);
    return new Tokenizer(core, special, config, cleanUp);
  }

  static #buildCore(family: TokenizerFamily, json: Record<string, unknown>, files: Core['files'], file: string): Core {
    const model = json.model;
    if (!isRecord(model)) throw new FormatError(`Cannot parse ${file}: no model`);
    const modelType = typeof model.type === 'string' ? model.type : 'BPE';
    if ((model.dropout ?? null) !== null) throw new UnsupportedConfigError(`${file}: BPE dropout is not supported (encoding must be deterministic)`);
    const jsonText = JSON.stringify(json);
    let rust: RustTokenizer;
    try {
      rust = RustTokenizer.fromString(jsonText);
    } catch (err) {
      throw new FormatError(`Cannot parse ${file}: the tokenizers library rejects it (${(err as Error).message})`, { cause: err });
    }
    const vocab = new Map<string, number>();
    const idToToken = new Map<number, string>();
    for (const [tok, id] of Object.entries(rust.getVocab(true))) {
      vocab.set(tok, id);
      idToToken.set(id, tok);
    }
    const added = (Array.isArray(json.added_tokens) ? json.added_tokens : []).map((t) => addedTokenFromJson(t, file));
    const core: Core = {
      family,
      modelType,
      json,
      files,
      vocab,
      idToToken,
      added,
      decoder: rust.getDecoder(),
      baseVocabSize: rust.getVocabSize(false),
      fullVocabSize: rust.getVocabSize(true),
      wrap: wrapOfPostProcessor(json.post_processor),
      sync: undefined as unknown as SyncEncoder,
      rust,
      cache: [new Map(), new Map()],
    };
    core.sync = new SyncEncoder(jsonText, core);
    return core;
  }

  // ---------------------------------------------------------------------------------------------- encoding

  /**
   * Token ids of `text`, synchronously (the library runs in a worker thread: see the module comment). With the
   * default `add_special_tokens: true`, BERT gives `[CLS] ... [SEP]`, RoBERTa `<s> ... </s>`, GPT-2 no specials.
   */
  encode(text: string, opts: EncodeOptions = {}): number[] {
    checkText(text);
    const add = checkEncodeOptions(opts, 'encode');
    const hit = this.#core.cache[add ? 1 : 0].get(text);
    if (hit !== undefined) return hit.slice();
    return this.#remember([text], this.#core.sync.encodeBatch([text], add), add)[0]!;
  }

  /** encode() of each text, in one call to the library. */
  encodeBatch(texts: readonly string[], opts: EncodeOptions = {}): number[][] {
    if (!Array.isArray(texts)) expected('an array of strings', 'texts', texts);
    texts.forEach((t, i) => checkText(t, `texts[${i}]`));
    const add = checkEncodeOptions(opts, 'encodeBatch');
    return this.#cached(texts, add, (missing) => this.#core.sync.encodeBatch(missing, add));
  }

  /** encode() on the main thread's event loop (the library's own async encode; no worker round trip). */
  async encodeAsync(text: string, opts: EncodeOptions = {}): Promise<number[]> {
    checkText(text);
    return (await this.encodeBatchAsync([text], opts))[0]!;
  }

  /** encodeBatch() through the library's async encodeBatch. */
  async encodeBatchAsync(texts: readonly string[], opts: EncodeOptions = {}): Promise<number[][]> {
    if (!Array.isArray(texts)) expected('an array of strings', 'texts', texts);
    texts.forEach((t, i) => checkText(t, `texts[${i}]`));
    const add = checkEncodeOptions(opts, 'encodeBatchAsync');
    const cache = this.#core.cache[add ? 1 : 0];
    const missing = [...new Set(texts.filter((t) => !cache.has(t)))];
    if (missing.length) {
      const rust = this.#core.rust;
      const encs = missing.length === 1 ? [await rust.encode(missing[0]!, null, { addSpecialTokens: add })] : await rust.encodeBatch(missing, { addSpecialTokens: add });
      this.#remember(missing, encs.map((e) => e.getIds()), add);
    }
    return this.#cached(texts, add, (m) => this.#core.sync.encodeBatch(m, add));
  }

  /** Token strings of `text` without special tokens (HF `tokenize`): `Ġdog` (byte-level BPE), `##s` (WordPiece). */
  tokenize(text: string): string[] {
    checkText(text);
    return this.#core.sync.tokenizeBatch([text], false)[0]!;
  }

  #cached(texts: readonly string[], add: boolean, run: (missing: string[]) => number[][]): number[][] {
    const cache = this.#core.cache[add ? 1 : 0];
    const missing = [...new Set(texts.filter((t) => !cache.has(t)))];
    const fresh = new Map<string, number[]>();
    if (missing.length) this.#remember(missing, run(missing), add).forEach((ids, i) => fresh.set(missing[i]!, ids));
    return texts.map((t) => (fresh.get(t) ?? cache.get(t)!).slice());
  }

  #remember(texts: readonly string[], rows: number[][], add: boolean): number[][] {
    const cache = this.#core.cache[add ? 1 : 0];
    texts.forEach((t, i) => {
      if (cache.size >= CACHE_LIMIT) cache.clear();
      cache.set(t, rows[i]!.slice());
    });
    return rows;
  }

  /**
   * The special-token ids `encode()` puts before and after a text (its post-processor): BERT `[101]` / `[102]`,
   * RoBERTa `[0]` / `[2]`, GPT-2 and word-level none. null for a post-processor this library does not know.
   */
  get special_tokens_wrap(): SpecialTokensWrap | null {
    const w = this.#core.wrap;
    return w && { start: [...w.start], end: [...w.end] };
  }

  /**
   * Encode several texts with Hugging Face's truncation/padding options. Returns plain arrays; attention_mask
   * is 1 on tokens and 0 on padding. Truncation keeps the special tokens (`[CLS] a b [SEP]`).
   */
  batchEncode(texts: readonly string[], opts: BatchEncodeOptions = {}): BatchEncoding {
    const add = this.#checkBatchOptions(texts, opts);
    return this.#pad(this.encodeBatch(texts, { add_special_tokens: add }), add, opts);
  }

  /** batchEncode() through the library's async encodeBatch. */
  async batchEncodeAsync(texts: readonly string[], opts: BatchEncodeOptions = {}): Promise<BatchEncoding> {
    const add = this.#checkBatchOptions(texts, opts);
    return this.#pad(await this.encodeBatchAsync(texts, { add_special_tokens: add }), add, opts);
  }

  /**
   * Hugging Face's `tokenizer(text_or_texts, ...)`: `tok.call(captions, { padding: 'max_length', max_length: 16,
   * truncation: true })` is Python's `tokenizer(captions, padding="max_length", max_length=16, truncation=True)`.
   * A list of texts gives `{ input_ids: number[][], attention_mask: number[][] }` (batchEncode()); one string
   * gives flat `{ input_ids: number[], attention_mask: number[] }`; `return_tensors: 'pt'` gives int64 Tensors.
   *
   * A method and not a callable instance: a JS class instance cannot be called, and making one a function
   * (a constructor returning a function object) would make `typeof tokenizer === 'function'`, which the data
   * loader and user code that check `typeof x === 'object'` reject, and would drop JSON/structuredClone and
   * console output. See docs/processing.md ("Porting from Python").
   */
  call(text: string | readonly string[], opts: TokenizerCallOptions & { return_tensors: 'pt' }): TensorBatchEncoding;
  call(text: string, opts?: TokenizerCallOptions): SingleEncoding;
  call(texts: readonly string[], opts?: TokenizerCallOptions): BatchEncoding;
  call(text: string | readonly string[], opts?: TokenizerCallOptions): SingleEncoding | BatchEncoding | TensorBatchEncoding;
  call(text: string | readonly string[], opts: TokenizerCallOptions = {}): SingleEncoding | BatchEncoding | TensorBatchEncoding {
    if (opts === null || typeof opts !== 'object') expected('an options object', 'tokenizer.call options', opts);
    const { return_tensors: rt = null, ...rest } = opts;
    if (rt !== null && rt !== 'pt') expected("'pt' or null", 'return_tensors', rt);
    const single = typeof text === 'string';
    if (!single && !Array.isArray(text)) expected('a string or an array of strings', 'tokenizer.call text', text);
    const enc = this.batchEncode(single ? [text as string] : (text as readonly string[]), rest);
    if (rt === 'pt') {
      const width = enc.input_ids[0]?.length ?? 0;
      if (enc.input_ids.some((r) => r.length !== width)) {
        throw new InvalidArgumentError(
          "Expected rows of one length for return_tensors: 'pt' but the texts encode to different lengths; pass padding: true (or 'max_length') as in Hugging Face",
        );
      }
      return {
        input_ids: Tensor.int64(enc.input_ids, [enc.input_ids.length, width]),
        attention_mask: Tensor.int64(enc.attention_mask, [enc.attention_mask.length, width]),
      };
    }
    return single ? { input_ids: enc.input_ids[0]!, attention_mask: enc.attention_mask[0]! } : enc;
  }

  #checkBatchOptions(texts: readonly string[], opts: BatchEncodeOptions): boolean {
    if (!Array.isArray(texts)) expected('an array of strings', 'texts', texts);
    if (opts === null || typeof opts !== 'object') expected('an options object', 'batchEncode options', opts);
    const { max_length: maxLength, truncation = false, padding = false } = opts;
    if (maxLength !== undefined && (!Number.isInteger(maxLength) || maxLength < 0)) expected('a non-negative integer', 'max_length', maxLength);
    if (![true, false, 'longest_first', 'only_first', 'do_not_truncate'].includes(truncation as never)) {
      expected("a boolean, 'longest_first', 'only_first' or 'do_not_truncate'", 'truncation', truncation);
    }
    if (![true, false, 'longest', 'max_length', 'do_not_pad'].includes(padding as never)) {
      expected("a boolean, 'longest', 'max_length' or 'do_not_pad'", 'padding', padding);
    }
    const side = opts.padding_side ?? this.#paddingSide;
    if (side !== 'left' && side !== 'right') expected("'left' or 'right'", 'padding_side', side);
    texts.forEach((t, i) => checkText(t, `texts[${i}]`));
    return checkEncodeOptions(opts, 'batchEncode');
  }

  #pad(encoded: number[][], add: boolean, opts: BatchEncodeOptions): BatchEncoding {
    const { max_length: maxLength, truncation = false, padding = false } = opts;
    const side = opts.padding_side ?? this.#paddingSide;
    const truncate = truncation !== false && truncation !== 'do_not_truncate';
    const limit = maxLength ?? this.#modelMaxLength;
    const wrap = add ? this.#core.wrap : null;
    const rows = encoded.map((ids) => {
      if (!truncate || ids.length <= limit) return ids;
      // As HF: the text is cut to leave room for the special tokens the post-processor adds.
      const s = wrap?.start.length ?? 0;
      const e = wrap?.end.length ?? 0;
      if (s + e === 0 || s + e > limit) return ids.slice(0, limit);
      return [...ids.slice(0, s), ...ids.slice(s, s + limit - s - e), ...ids.slice(ids.length - e)];
    });
    let target = -1;
    if (padding === true || padding === 'longest') target = rows.reduce((m, r) => Math.max(m, r.length), 0);
    else if (padding === 'max_length') {
      if (limit === Number.MAX_SAFE_INTEGER) expected('max_length (the tokenizer has no model_max_length)', "padding: 'max_length'", maxLength);
      target = limit;
    }
    const padId = target >= 0 ? this.#requirePad('padding') : 0;
    const input_ids: number[][] = [];
    const attention_mask: number[][] = [];
    for (const r of rows) {
      const n = Math.max(0, target - r.length);
      const pads = new Array<number>(n).fill(padId);
      const ones = new Array<number>(r.length).fill(1);
      const zeros = new Array<number>(n).fill(0);
      input_ids.push(side === 'right' ? [...r, ...pads] : [...pads, ...r]);
      attention_mask.push(side === 'right' ? [...ones, ...zeros] : [...zeros, ...ones]);
    }
    return { input_ids, attention_mask };
  }

  #requirePad(forWhat: string): number {
    const id = this.pad_token_id;
    if (id === null) {
      throw new InvalidArgumentError(
        `Expected a pad token for ${forWhat} but this tokenizer has none (GPT-2 defines no pad token); ` +
          'use tokenizer.withPadToken(tokenizer.eos_token_id) as the Hugging Face captioning recipes do',
      );
    }
    return id;
  }

  // ---------------------------------------------------------------------------------------------- decoding

  /**
   * Text of `ids` (Hugging Face fast decode: the library's decoder on the tokens, e.g. byte-level inverse with
   * invalid UTF-8 replaced by U+FFFD, or WordPiece `##` joining), then clean-up when asked.
   */
  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    if (!Array.isArray(ids)) expected('an array of token ids', 'ids', ids);
    if (opts === null || typeof opts !== 'object') expected('an options object', 'decode options', opts);
    const skip = opts.skip_special_tokens ?? false;
    const cleanUp = opts.clean_up_tokenization_spaces ?? this.#cleanUp;
    if (typeof skip !== 'boolean') expected('a boolean', 'skip_special_tokens', skip);
    if (typeof cleanUp !== 'boolean') expected('a boolean', 'clean_up_tokenization_spaces', cleanUp);
    const specialIds = skip ? this.#specialIds() : null;
    const tokens: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) expected('non-negative integer token ids', `ids[${i}]`, id);
      if (specialIds?.has(id)) continue;
      const tok = this.#core.idToToken.get(id);
      if (tok !== undefined) tokens.push(tok); // unknown ids are skipped, as Hugging Face's fast decode does
    }
    const decoder = this.#core.decoder;
    const text = tokens.length ? (decoder ? decoder.decode(tokens) : tokens.join(' ')) : '';
    return cleanUp ? cleanUpTokenization(text) : text;
  }

  /** decode() for each row. */
  batchDecode(rows: readonly (readonly number[])[], opts: DecodeOptions = {}): string[] {
    if (!Array.isArray(rows)) expected('an array of id arrays', 'rows', rows);
    return rows.map((r) => this.decode(r, opts));
  }

  #specialIdsCache: Set<number> | undefined;

  #specialIds(): Set<number> {
    if (this.#specialIdsCache) return this.#specialIdsCache;
    const s = new Set<number>();
    for (const t of this.#core.added) if (t.special) s.add(t.id);
    for (const t of [...SPECIAL_NAMES.map((n) => this.#special[n]), ...this.#special.additional_special_tokens]) {
      if (t === null) continue;
      const id = this.tokenToId(t);
      if (id !== null) s.add(id);
    }
    this.#specialIdsCache = s;
    return s;
  }

  // ---------------------------------------------------------------------------------------------- vocabulary

  /** Id of a token string (vocabulary or added token), or null. */
  tokenToId(token: string): number | null {
    return this.#core.vocab.get(token) ?? null;
  }

  /** Token string of an id, or null. */
  idToToken(id: number): string | null {
    return this.#core.idToToken.get(id) ?? null;
  }

  /** 'bert', 'roberta', 'gpt2', or 'other' (e.g. the demo's word-level tokenizer). */
  get family(): TokenizerFamily {
    return this.#core.family;
  }

  /** Size of the base vocabulary (Hugging Face `vocab_size`: 50257 GPT-2, 30522 bert-base-uncased, 50265 roberta-base). */
  get vocab_size(): number {
    return this.#core.baseVocabSize;
  }

  /** Number of distinct ids including added tokens (Hugging Face `len(tokenizer)`). */
  get vocabSizeWithAddedTokens(): number {
    return Math.max(this.#core.fullVocabSize, this.#core.idToToken.size);
  }

  get model_max_length(): number {
    return this.#modelMaxLength;
  }

  /** The default of decode()'s clean_up_tokenization_spaces. */
  get clean_up_tokenization_spaces(): boolean {
    return this.#cleanUp;
  }

  #id(name: SpecialName): number | null {
    const t = this.#special[name];
    return t === null ? null : this.tokenToId(t);
  }

  /**
   * Set a special token as HF's `tokenizer.pad_token = tokenizer.eos_token` does: a token string of the
   * vocabulary (or null: none). The change is saved by save() (tokenizer_config.json, special_tokens_map.json).
   */
  #setSpecial(name: SpecialName, token: string | null): void {
    if (token !== null) {
      if (typeof token !== 'string') expected('a token string (or null)', `tokenizer.${name}`, token);
      if (this.tokenToId(token) === null) {
        throw new InvalidArgumentError(
          `Expected a token of the vocabulary for tokenizer.${name} but received ${JSON.stringify(token)}, which is not in it` +
            (this.eos_token !== null ? ` (e.g. tokenizer.eos_token, ${JSON.stringify(this.eos_token)})` : ''),
        );
      }
    }
    this.#special[name] = token;
    this.#specialIdsCache = undefined;
  }

  /** The id form of #setSpecial: `tokenizer.pad_token_id = tokenizer.eos_token_id` sets pad_token to that id's token. */
  #setSpecialId(name: SpecialName, id: number | null): void {
    if (id === null) return this.#setSpecial(name, null);
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) expected('a non-negative integer token id (or null)', `tokenizer.${name}_id`, id);
    const token = this.idToToken(id);
    if (token === null) {
      throw new InvalidArgumentError(`Expected a token id of the vocabulary for tokenizer.${name}_id but received ${id}, which is no token`);
    }
    this.#setSpecial(name, token);
  }

  /** Settable (HF): a token of the vocabulary or null; sets bos_token_id too. */
  get bos_token(): string | null {
    return this.#special.bos_token;
  }
  set bos_token(token: string | null) {
    this.#setSpecial('bos_token', token);
  }
  /** Settable (HF): a token of the vocabulary or null; sets eos_token_id too. */
  get eos_token(): string | null {
    return this.#special.eos_token;
  }
  set eos_token(token: string | null) {
    this.#setSpecial('eos_token', token);
  }
  get unk_token(): string | null {
    return this.#special.unk_token;
  }
  /**
   * Settable (HF): `tokenizer.pad_token = tokenizer.eos_token` (GPT-2 has no pad token) changes this tokenizer
   * in place, as in Python, and save() writes it; withPadToken() is the non-mutating form.
   */
  get pad_token(): string | null {
    return this.#special.pad_token;
  }
  set pad_token(token: string | null) {
    this.#setSpecial('pad_token', token);
  }
  get cls_token(): string | null {
    return this.#special.cls_token;
  }
  get sep_token(): string | null {
    return this.#special.sep_token;
  }
  get mask_token(): string | null {
    return this.#special.mask_token;
  }
  /** null where the family has none (BERT). Settable (HF): an id of the vocabulary or null; sets bos_token too. */
  get bos_token_id(): number | null {
    return this.#id('bos_token');
  }
  set bos_token_id(id: number | null) {
    this.#setSpecialId('bos_token', id);
  }
  /**
   * null where the family has none (BERT: its captions end with [SEP], see special_tokens_wrap). Settable (HF):
   * an id of the vocabulary or null; sets eos_token too.
   */
  get eos_token_id(): number | null {
    return this.#id('eos_token');
  }
  set eos_token_id(id: number | null) {
    this.#setSpecialId('eos_token', id);
  }
  get unk_token_id(): number | null {
    return this.#id('unk_token');
  }
  /**
   * null when the tokenizer defines no pad token (GPT-2). Settable (HF): `tokenizer.pad_token_id =
   * tokenizer.eos_token_id` sets pad_token to that id's token; see also withPadToken().
   */
  get pad_token_id(): number | null {
    return this.#id('pad_token');
  }
  set pad_token_id(id: number | null) {
    this.#setSpecialId('pad_token', id);
  }
  get cls_token_id(): number | null {
    return this.#id('cls_token');
  }
  get sep_token_id(): number | null {
    return this.#id('sep_token');
  }
  get mask_token_id(): number | null {
    return this.#id('mask_token');
  }

  /** Added tokens (tokenizer.json `added_tokens`). */
  get added_tokens(): readonly AddedTokenInfo[] {
    return this.#core.added.map((t) => ({ ...t }));
  }

  /**
   * A tokenizer that pads with `token` (a token string or id already in the vocabulary), e.g.
   * `tok.withPadToken(tok.eos_token_id!)` as Hugging Face GPT-2 captioning recipes do. The original is unchanged.
   */
  withPadToken(token: string | number): Tokenizer {
    let content: string | null;
    if (typeof token === 'number') {
      if (!Number.isInteger(token) || token < 0) expected('a token id or token string', 'withPadToken token', token);
      content = this.idToToken(token);
    } else if (typeof token === 'string') {
      content = this.tokenToId(token) === null ? null : token;
    } else {
      return expected('a token id or token string', 'withPadToken token', token);
    }
    if (content === null) expected('a token of the vocabulary', 'withPadToken token', token);
    return new Tokenizer(this.#core, { ...this.#special, pad_token: content }, { ...this.#config, pad_token: content }, this.#cleanUp);
  }

  // ---------------------------------------------------------------------------------------------- saving

  /** tokenizer_config.json content (Hugging Face keys). */
  tokenizerConfig(): Record<string, unknown> {
    const out: Record<string, unknown> = { ...this.#config };
    delete out.added_tokens_decoder;
    for (const name of SPECIAL_NAMES) {
      if (this.#special[name] !== null) out[name] = this.#special[name];
      else if (name in out) out[name] = null; // "none", not "the class default"
    }
    if (this.#special.additional_special_tokens.length) out.additional_special_tokens = [...this.#special.additional_special_tokens];
    if (this.#core.family === 'gpt2' || this.#core.family === 'roberta') {
      const pre = this.#core.json.pre_tokenizer;
      out.add_prefix_space = isRecord(pre) && pre.type === 'ByteLevel' && pre.add_prefix_space === true;
    }
    out.clean_up_tokenization_spaces = this.#cleanUp;
    out.model_max_length = this.#modelMaxLength === Number.MAX_SAFE_INTEGER ? 1e30 : this.#modelMaxLength;
    out.tokenizer_class ??= FAMILY_CLASS[this.#core.family];
    return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  /** special_tokens_map.json content. */
  specialTokensMap(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    if (this.#special.additional_special_tokens.length) out.additional_special_tokens = [...this.#special.additional_special_tokens];
    for (const name of SPECIAL_NAMES) if (this.#special[name] !== null) out[name] = this.#special[name];
    return out;
  }

  /**
   * Write tokenizer.json, tokenizer_config.json and special_tokens_map.json (and vocab.txt or vocab.json +
   * merges.txt, byte for byte, when it was loaded from them, and added_tokens.json when tokens were added past
   * the vocabulary, e.g. BLIP's [DEC] and [ENC]) into `dir`, loadable by Python transformers and by fromPretrained().
   */
  async save(dir: string): Promise<void> {
    if (typeof dir !== 'string') expected('a folder path', 'Tokenizer.save dir', dir);
    await mkdir(dir, { recursive: true });
    // As transformers' save_pretrained: the added tokens whose ids lie past the base vocabulary.
    const beyond = this.#core.added.filter((t) => t.id >= this.#core.baseVocabSize).sort((a, b) => a.id - b.id);
    const addedFile = beyond.length ? [writeFile(join(dir, 'added_tokens.json'), JSON.stringify(Object.fromEntries(beyond.map((t) => [t.content, t.id])), null, 2) + '\n')] : [];
    await Promise.all([
      ...addedFile,
      writeFile(join(dir, 'tokenizer.json'), JSON.stringify(this.#core.json, null, 2) + '\n'),
      writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(this.tokenizerConfig(), null, 2) + '\n'),
      writeFile(join(dir, 'special_tokens_map.json'), JSON.stringify(this.specialTokensMap(), null, 2) + '\n'),
      ...this.#core.files.map((f) => writeFile(join(dir, f.name), f.text)),
    ]);
  }

  toString(): string {
    const kind = this.#core.modelType === 'BPE' && containsType(this.#core.json.pre_tokenizer, 'ByteLevel') ? 'byte-level BPE' : this.#core.modelType;
    const end = this.eos_token ?? this.sep_token;
    return `Tokenizer(${this.#core.family}, ${kind}, vocab_size ${this.vocab_size}, ${this.eos_token !== null ? 'eos' : 'sep'} ${JSON.stringify(end)})`;
  }
}
