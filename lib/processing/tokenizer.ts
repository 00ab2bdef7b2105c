/**
 * Tokenizer: GPT-2 style byte-level BPE with the semantics of today's Hugging Face fast tokenizer
 * (GPT2TokenizerFast, the `tokenizers` Rust library), synchronous.
 *
 * Loading: tokenizer.json when present, else vocab.json + merges.txt with the special tokens of
 * tokenizer_config.json / special_tokens_map.json (the layout of GPT2Tokenizer, `<|endoftext|>` = 50256).
 * The `tokenizers` npm package (Rust) provides the pre-tokenizer, normalizer and decoder exactly as Hugging
 * Face runs them; the BPE merge loop runs in TypeScript with a per-word cache so that encode() is synchronous
 * and fast. Texts made only of ASCII are pre-tokenized with an equivalent JavaScript regex (tested against the
 * Rust one); any other text goes through the Rust pre-tokenizer.
 *
 * Differences from the transformers 4.9 slow GPT2Tokenizer (the golden fixtures' reference): a whitespace-only
 * text encodes to its BPE tokens (" " -> [220]) as every fast tokenizer does, where 4.9 returned [].
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer as RustTokenizer, type Decoder, type Normalizer, type PreTokenizer } from 'tokenizers';
import { expected, FormatError, InvalidArgumentError, UnsupportedConfigError } from '../errors.js';
import { readJsonObject } from '../json.js';

export interface DecodeOptions {
  /** Drop special tokens (`<|endoftext|>`, ...). Default false. */
  skip_special_tokens?: boolean;
  /**
   * Apply transformers' `clean_up_tokenization` (" ." -> ".", " 's" -> "'s", " n't" -> "n't", ...). Default: the
   * tokenizer's `clean_up_tokenization_spaces` (tokenizer_config.json's value, else true: the transformers 4.x
   * default the golden fixtures were made with).
   */
  clean_up_tokenization_spaces?: boolean;
}

export type TruncationStrategy = boolean | 'longest_first' | 'only_first' | 'do_not_truncate';
export type PaddingStrategy = boolean | 'longest' | 'max_length' | 'do_not_pad';

export interface BatchEncodeOptions {
  /** Length to truncate to / pad to ('max_length'). Default: model_max_length where one is needed. */
  max_length?: number;
  /** Truncate each text to max_length tokens (true / 'longest_first' / 'only_first'). Default false. */
  truncation?: TruncationStrategy;
  /** true / 'longest': pad to the longest text; 'max_length': pad to max_length. Default false (ragged rows). */
  padding?: PaddingStrategy;
  /** Side to pad on. Default: the tokenizer's padding_side ('right' for GPT-2). */
  padding_side?: 'right' | 'left';
}

export interface BatchEncoding {
  input_ids: number[][];
  attention_mask: number[][];
}

export interface TokenizerLoadOptions {
  /** Overrides the default of decode()'s clean_up_tokenization_spaces. */
  clean_up_tokenization_spaces?: boolean;
}

/** An added token as in tokenizer.json's `added_tokens`. */
export interface AddedTokenInfo {
  id: number;
  content: string;
  special: boolean;
  lstrip: boolean;
  rstrip: boolean;
  single_word: boolean;
  normalized: boolean;
}

type SpecialName = 'bos_token' | 'eos_token' | 'unk_token' | 'pad_token';
const SPECIAL_NAMES: readonly SpecialName[] = ['bos_token', 'eos_token', 'unk_token', 'pad_token'];

interface SpecialTokens {
  bos_token: string | null;
  eos_token: string | null;
  unk_token: string | null;
  pad_token: string | null;
  additional_special_tokens: string[];
}

/** Everything immutable a Tokenizer shares with the copies withPadToken() makes. */
interface Core {
  /** Byte-level BPE (GPT-2) or a word-level vocabulary (e.g. the demo's). */
  kind: 'bpe' | 'wordlevel';
  vocab: Map<string, number>;
  idToToken: Map<number, string>;
  ranks: Map<string, number>;
  ignoreMerges: boolean;
  unkId: number | null;
  added: AddedTokenInfo[];
  addedByContent: Map<string, AddedTokenInfo>;
  splitRe: RegExp | null;
  preTokenizer: PreTokenizer;
  normalizer: Normalizer | null;
  /** null for word-level tokenizers without a decoder: tokens are joined with spaces, as transformers does. */
  decoder: Decoder | null;
  cache: Map<string, readonly number[]>;
  /** tokenizer.json as it will be saved. */
  json: Record<string, unknown>;
  /** Original vocab.json / merges.txt text when loaded from them. */
  files: { vocab: string; merges: string } | null;
  baseVocabSize: number;
}

const CACHE_LIMIT = 200_000;

// GPT-2's bytes_to_unicode: printable bytes map to themselves, the others to U+0100 + n.
const BYTE_TO_CHAR: string[] = (() => {
  const out = new Array<string>(256);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    out[b] = String.fromCharCode(printable ? b : 256 + n++);
  }
  return out;
})();

// The GPT-2 pre-tokenizer pattern restricted to ASCII input: \p{L} = [A-Za-z], \p{N} = [0-9], and \s is
// [\t\n\v\f\r ] in both JavaScript and the Rust (Oniguruma) regex for these characters.
const ASCII_PRETOKENIZE = /'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+/g;
const ASCII_ONLY = /^[\x00-\x7f]*$/;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

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

/** A token entry of tokenizer_config.json: a string or an AddedToken object `{content, ...}`. */
function tokenContent(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return null;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function containsType(node: unknown, type: string): boolean {
  if (!isRecord(node)) return false;
  if (node.type === type) return true;
  const kids = (node.pretokenizers ?? node.decoders ?? node.normalizers) as unknown;
  return Array.isArray(kids) && kids.some((k) => containsType(k, type));
}

function parseMergesText(text: string, file: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const l = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (l === '' || l.startsWith('#version')) continue;
    const parts = l.split(' ');
    if (parts.length !== 2) throw new FormatError(`Cannot parse ${file}: expected "left right" per line but found ${JSON.stringify(l.slice(0, 60))}`);
    out.push(l);
  }
  return out;
}

/** Merges as "a b" strings from tokenizer.json (either "a b" strings or [a, b] pairs). */
function mergeKeys(merges: unknown, file: string): string[] {
  if (!Array.isArray(merges)) throw new FormatError(`Cannot parse ${file}: model.merges is not an array`);
  return merges.map((m) => {
    if (typeof m === 'string') return m;
    if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') return `${m[0]} ${m[1]}`;
    throw new FormatError(`Cannot parse ${file}: bad merge ${JSON.stringify(m)}`);
  });
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

/** Vocabulary and added tokens of a tokenizer.json model, validated; splitRe cuts added tokens out of text. */
function readVocabulary(json: Record<string, unknown>, model: Record<string, unknown>, file: string) {
  if (!isRecord(model.vocab)) throw new FormatError(`Cannot parse ${file}: model.vocab is not an object`);
  const vocab = new Map<string, number>();
  const idToToken = new Map<number, string>();
  for (const [tok, id] of Object.entries(model.vocab)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) throw new FormatError(`Cannot parse ${file}: id of ${JSON.stringify(tok)} is not a non-negative integer`);
    vocab.set(tok, id);
    idToToken.set(id, tok);
  }
  const added = (Array.isArray(json.added_tokens) ? json.added_tokens : []).map((t) => addedTokenFromJson(t, file));
  const addedByContent = new Map<string, AddedTokenInfo>();
  for (const t of added) {
    addedByContent.set(t.content, t);
    idToToken.set(t.id, t.content);
  }
  const contents = [...addedByContent.keys()].filter((c) => c.length > 0).sort((a, b) => b.length - a.length);
  const splitRe = contents.length ? new RegExp(contents.map(escapeRegExp).join('|'), 'g') : null;
  return { vocab, idToToken, added, addedByContent, splitRe };
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
   * Load from a Hugging Face folder: tokenizer.json if present, else vocab.json + merges.txt; special tokens
   * and settings from tokenizer_config.json / special_tokens_map.json.
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
    const vocabFile = join(dir, 'vocab.json');
    const mergesFile = join(dir, 'merges.txt');

    let json: Record<string, unknown>;
    let files: Core['files'] = null;
    if (existsSync(tokFile)) {
      json = await readJsonObject(tokFile);
    } else if (existsSync(vocabFile) && existsSync(mergesFile)) {
      const [vocabText, mergesText] = await Promise.all([readFile(vocabFile, 'utf8'), readFile(mergesFile, 'utf8')]);
      files = { vocab: vocabText, merges: mergesText };
      let vocab: unknown;
      try {
        vocab = JSON.parse(vocabText);
      } catch (err) {
        throw new FormatError(`Cannot parse ${vocabFile}: ${(err as Error).message}`, { cause: err });
      }
      if (!isRecord(vocab)) throw new FormatError(`Cannot parse ${vocabFile}: expected a JSON object of token -> id`);
      json = Tokenizer.#gpt2Json(vocab as Record<string, number>, parseMergesText(mergesText, mergesFile), Tokenizer.#specialTokens(config, map), config, vocabFile);
    } else {
      throw new InvalidArgumentError(
        `Expected a folder with tokenizer.json, or vocab.json and merges.txt, for Tokenizer.fromPretrained but received string ${JSON.stringify(dir)}`,
      );
    }
    return Tokenizer.#assemble(json, files, files ? vocabFile : tokFile, config, map, dir, opts);
  }

  /**
   * A tokenizer from the contents of a tokenizer.json (and, optionally, tokenizer_config.json), without
   * files: for tokenizers built in memory, such as the demo's word-level one.
   */
  static fromTokenizerJson(json: Record<string, unknown>, config: Record<string, unknown> = {}, opts: TokenizerLoadOptions = {}): Tokenizer {
    if (!isRecord(json)) expected('a tokenizer.json object', 'Tokenizer.fromTokenizerJson json', json);
    if (!isRecord(config)) expected('a tokenizer_config.json object', 'Tokenizer.fromTokenizerJson config', config);
    return Tokenizer.#assemble(json, null, 'tokenizer.json', config, {}, 'memory', opts);
  }

  /** Special tokens: tokenizer_config.json wins over special_tokens_map.json. */
  static #specialTokens(config: Record<string, unknown>, map: Record<string, unknown>): SpecialTokens {
    const special: SpecialTokens = { bos_token: null, eos_token: null, unk_token: null, pad_token: null, additional_special_tokens: [] };
    for (const name of SPECIAL_NAMES) special[name] = tokenContent(config[name]) ?? tokenContent(map[name]);
    const extra = (config.additional_special_tokens ?? map.additional_special_tokens) as unknown;
    if (Array.isArray(extra)) special.additional_special_tokens = extra.map(tokenContent).filter((t): t is string => t !== null);
    return special;
  }

  static #assemble(
    json: Record<string, unknown>, files: Core['files'], file: string, config: Record<string, unknown>, map: Record<string, unknown>,
    dir: string, opts: TokenizerLoadOptions,
  ): Tokenizer {
    const special = Tokenizer.#specialTokens(config, map);
    // GPT2Tokenizer's defaults: <|endoftext|> is bos, eos and unk unless the config says otherwise.
    const core = Tokenizer.#buildCore(json, files, file);
    for (const name of ['bos_token', 'eos_token', 'unk_token'] as const) {
      if (special[name] === null && !(name in config) && !(name in map) && core.vocab.has('<|endoftext|>')) special[name] = '<|endoftext|>';
    }
    for (const name of SPECIAL_NAMES) {
      const t = special[name];
      if (t !== null && !core.vocab.has(t) && !core.addedByContent.has(t)) {
        throw new FormatError(`${name} ${JSON.stringify(t)} of ${dir} is not in the vocabulary`);
      }
    }
    const cleanUp = opts.clean_up_tokenization_spaces ?? (typeof config.clean_up_tokenization_spaces === 'boolean' ? config.clean_up_tokenization_spaces : true);
    return new Tokenizer(core, special, config, cleanUp);
  }

  /** The tokenizer.json a GPT2TokenizerFast would save for these files. */
  static #gpt2Json(
    vocab: Record<string, number>,
    merges: string[],
    special: SpecialTokens,
    config: Record<string, unknown>,
    file: string,
  ): Record<string, unknown> {
    let nextId = 0;
    for (const [tok, id] of Object.entries(vocab)) {
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) throw new FormatError(`Cannot parse ${file}: id of ${JSON.stringify(tok)} is not a non-negative integer`);
      nextId = Math.max(nextId, id + 1);
    }
    // Special tokens become added tokens (special, no strip), appended to the vocabulary when new.
    const added: Record<string, unknown>[] = [];
    const seen = new Set<string>();
    const decoderTable = config.added_tokens_decoder;
    const addToken = (content: string, flags: Partial<AddedTokenInfo>, id?: number): void => {
      if (seen.has(content)) return;
      seen.add(content);
      const tokenId = id ?? vocab[content] ?? nextId++;
      added.push({
        id: tokenId,
        content,
        single_word: flags.single_word ?? false,
        lstrip: flags.lstrip ?? false,
        rstrip: flags.rstrip ?? false,
        normalized: flags.normalized ?? false,
        special: flags.special ?? true,
      });
    };
    if (isRecord(decoderTable)) {
      for (const [idText, t] of Object.entries(decoderTable)) {
        if (isRecord(t) && typeof t.content === 'string') addToken(t.content, t as Partial<AddedTokenInfo>, Number(idText));
      }
    }
    for (const t of [special.bos_token, special.eos_token, special.unk_token, special.pad_token, ...special.additional_special_tokens]) {
      if (t !== null) addToken(t, { special: true });
    }
    const addPrefix = config.add_prefix_space === true;
    return {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: added.sort((a, b) => (a.id as number) - (b.id as number)),
      normalizer: null,
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: addPrefix, trim_offsets: true, use_regex: true },
      post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: '',
        end_of_word_suffix: '',
        fuse_unk: false,
        byte_fallback: false,
        ignore_merges: false,
        vocab,
        merges,
      },
    };
  }

  static #buildCore(json: Record<string, unknown>, files: Core['files'], file: string): Core {
    const model = json.model;
    if (isRecord(model) && model.type === 'WordLevel') return Tokenizer.#wordLevelCore(json, model, file);
    if (!isRecord(model) || (model.type !== undefined && model.type !== 'BPE')) {
      throw new UnsupportedConfigError(`${file}: model type ${JSON.stringify(isRecord(model) ? model.type : model)} is not supported (byte-level BPE or WordLevel)`);
    }
    if (!containsType(json.pre_tokenizer, 'ByteLevel') || !containsType(json.decoder, 'ByteLevel')) {
      throw new UnsupportedConfigError(`${file}: only byte-level BPE tokenizers (ByteLevel pre-tokenizer and decoder, as GPT-2) are supported`);
    }
    if ((model.dropout ?? null) !== null || model.byte_fallback === true) {
      throw new UnsupportedConfigError(`${file}: BPE dropout and byte_fallback are not supported`);
    }
    if (model.continuing_subword_prefix || model.end_of_word_suffix) {
      throw new UnsupportedConfigError(`${file}: continuing_subword_prefix / end_of_word_suffix are not supported`);
    }
    const prePieces = json.pre_tokenizer as Record<string, unknown>;
    const addPrefixSpace = isRecord(prePieces) && prePieces.type === 'ByteLevel' && prePieces.add_prefix_space === true;
    if (addPrefixSpace) {
      throw new UnsupportedConfigError(`${file}: add_prefix_space=true is not supported (GPT-2 captioning uses false)`);
    }
    const { vocab, idToToken, added, addedByContent, splitRe } = readVocabulary(json, model, file);
    const baseVocabSize = vocab.size;
    const ranks = new Map<string, number>();
    mergeKeys(model.merges, file).forEach((m, i) => {
      if (!ranks.has(m)) ranks.set(m, i);
    });
    // The Rust pieces that run exactly as Hugging Face runs them (the model itself is not needed there).
    const rust = RustTokenizer.fromString(
      JSON.stringify({
        version: '1.0',
        truncation: null,
        padding: null,
        added_tokens: [],
        normalizer: json.normalizer ?? null,
        pre_tokenizer: json.pre_tokenizer,
        post_processor: null,
        decoder: json.decoder,
        model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, vocab: {}, merges: [] },
      }),
    );
    const preTokenizer = rust.getPreTokenizer();
    const decoder = rust.getDecoder();
    if (!preTokenizer || !decoder) throw new FormatError(`Cannot parse ${file}: no pre-tokenizer or decoder`);
    const unkTok = typeof model.unk_token === 'string' ? model.unk_token : null;
    return {
      kind: 'bpe',
      vocab,
      idToToken,
      ranks,
      ignoreMerges: model.ignore_merges === true,
      unkId: unkTok !== null ? (vocab.get(unkTok) ?? null) : null,
      added,
      addedByContent,
      splitRe,
      preTokenizer,
      normalizer: json.normalizer ? rust.getNormalizer() : null,
      decoder,
      cache: new Map(),
      json,
      files,
      baseVocabSize,
    };
  }

  /**
   * A WordLevel tokenizer.json: normalizer, pre-tokenizer and decoder run in the Rust `tokenizers` library;
   * the model itself is a vocabulary lookup with the unknown token as fallback.
   */
  static #wordLevelCore(json: Record<string, unknown>, model: Record<string, unknown>, file: string): Core {
    const { vocab, idToToken, added, addedByContent, splitRe } = readVocabulary(json, model, file);
    const rust = RustTokenizer.fromString(
      JSON.stringify({
        version: '1.0', truncation: null, padding: null, added_tokens: [], post_processor: null,
        normalizer: json.normalizer ?? null,
        pre_tokenizer: json.pre_tokenizer ?? { type: 'Whitespace' },
        decoder: json.decoder ?? null,
        model: { type: 'WordLevel', vocab: {}, unk_token: '[UNK]' },
      }),
    );
    const preTokenizer = rust.getPreTokenizer();
    if (!preTokenizer) throw new FormatError(`Cannot parse ${file}: no pre-tokenizer`);
    const unkTok = typeof model.unk_token === 'string' ? model.unk_token : null;
    return {
      kind: 'wordlevel',
      vocab,
      idToToken,
      ranks: new Map(),
      ignoreMerges: false,
      unkId: unkTok !== null ? (vocab.get(unkTok) ?? addedByContent.get(unkTok)?.id ?? null) : null,
      added,
      addedByContent,
      splitRe,
      preTokenizer,
      normalizer: json.normalizer ? rust.getNormalizer() : null,
      decoder: json.decoder ? rust.getDecoder() : null,
      cache: new Map(),
      json,
      files: null,
      baseVocabSize: vocab.size,
    };
  }

  // ---------------------------------------------------------------------------------------------- encoding

  /** Token ids of `text` (no BOS/EOS added, no prefix space: GPT-2's behaviour). */
  encode(text: string): number[] {
    if (typeof text !== 'string') expected('a string', 'text', text);
    const ids: number[] = [];
    this.#encodeInto(text, ids, null);
    return ids;
  }

  /** Byte-level BPE token strings of `text` (e.g. "Ġdog"). */
  tokenize(text: string): string[] {
    if (typeof text !== 'string') expected('a string', 'text', text);
    const ids: number[] = [];
    const tokens: string[] = [];
    this.#encodeInto(text, ids, tokens);
    return tokens;
  }

  #encodeInto(text: string, ids: number[], tokens: string[] | null): void {
    const core = this.#core;
    if (!core.splitRe) {
      this.#encodeOrdinary(text, ids, tokens);
      return;
    }
    let pos = 0;
    core.splitRe.lastIndex = 0;
    for (let m = core.splitRe.exec(text); m !== null; m = core.splitRe.exec(text)) {
      const tok = core.addedByContent.get(m[0])!;
      let start = m.index;
      let end = start + m[0].length;
      if (tok.single_word) {
        const before = start > 0 ? text[start - 1]! : '';
        const after = end < text.length ? text[end]! : '';
        if (/[\p{L}\p{N}_]/u.test(before) || /[\p{L}\p{N}_]/u.test(after)) {
          core.splitRe.lastIndex = start + 1;
          continue;
        }
      }
      if (tok.lstrip) while (start > pos && /\s/u.test(text[start - 1]!)) start--;
      if (tok.rstrip) while (end < text.length && /\s/u.test(text[end]!)) end++;
      this.#encodeOrdinary(text.slice(pos, start), ids, tokens);
      ids.push(tok.id);
      tokens?.push(tok.content);
      pos = end;
      core.splitRe.lastIndex = end;
    }
    this.#encodeOrdinary(text.slice(pos), ids, tokens);
  }

  #encodeOrdinary(text: string, ids: number[], tokens: string[] | null): void {
    if (text.length === 0) return;
    const core = this.#core;
    if (core.kind === 'wordlevel') {
      const normalized = core.normalizer ? core.normalizer.normalizeString(text) : text;
      for (const [piece] of core.preTokenizer.preTokenizeString(normalized)) {
        const id = core.vocab.get(piece) ?? core.unkId;
        if (id === null || id === undefined) throw new InvalidArgumentError(`The word ${JSON.stringify(piece)} is not in the vocabulary and the tokenizer has no unknown token`);
        ids.push(id);
        tokens?.push(core.vocab.has(piece) ? piece : core.idToToken.get(id)!);
      }
      return;
    }
    if (!core.normalizer && ASCII_ONLY.test(text)) {
      ASCII_PRETOKENIZE.lastIndex = 0;
      for (let m = ASCII_PRETOKENIZE.exec(text); m !== null; m = ASCII_PRETOKENIZE.exec(text)) {
        const piece = m[0];
        let mapped = '';
        for (let i = 0; i < piece.length; i++) mapped += BYTE_TO_CHAR[piece.charCodeAt(i)]!;
        this.#bpeInto(mapped, ids, tokens);
      }
      return;
    }
    const normalized = core.normalizer ? core.normalizer.normalizeString(text) : text;
    for (const [piece] of core.preTokenizer.preTokenizeString(normalized)) this.#bpeInto(piece, ids, tokens);
  }

  #bpeInto(word: string, ids: number[], tokens: string[] | null): void {
    const core = this.#core;
    let cached = core.cache.get(word);
    if (cached === undefined) {
      cached = this.#bpe(word);
      if (core.cache.size >= CACHE_LIMIT) core.cache.clear();
      core.cache.set(word, cached);
    }
    for (const id of cached) {
      ids.push(id);
      if (tokens) tokens.push(core.idToToken.get(id)!);
    }
  }

  /** Byte-level BPE of one pre-token: repeatedly merge the adjacent pair with the lowest merge rank. */
  #bpe(word: string): number[] {
    const core = this.#core;
    const direct = core.vocab.get(word);
    if (direct !== undefined && (core.ignoreMerges || word.length === 1)) return [direct];
    let symbols = Array.from(word);
    while (symbols.length > 1) {
      let best = Infinity;
      let bestAt = -1;
      for (let i = 0; i + 1 < symbols.length; i++) {
        const r = core.ranks.get(symbols[i] + ' ' + symbols[i + 1]);
        if (r !== undefined && r < best) {
          best = r;
          bestAt = i;
        }
      }
      if (bestAt < 0) break;
      const a = symbols[bestAt]!;
      const b = symbols[bestAt + 1]!;
      // Merge every occurrence of (a, b), left to right.
      const merged: string[] = [];
      for (let i = 0; i < symbols.length; i++) {
        if (i + 1 < symbols.length && symbols[i] === a && symbols[i + 1] === b) {
          merged.push(a + b);
          i++;
        } else {
          merged.push(symbols[i]!);
        }
      }
      symbols = merged;
    }
    const out: number[] = [];
    for (const s of symbols) {
      const id = core.vocab.get(s);
      if (id !== undefined) out.push(id);
      else if (core.unkId !== null) out.push(core.unkId);
      // else: dropped, as the Rust BPE does without an unk token
    }
    return out;
  }

  /**
   * Encode several texts with Hugging Face's truncation/padding options. Returns plain arrays; attention_mask
   * is 1 on tokens and 0 on padding.
   */
  batchEncode(texts: readonly string[], opts: BatchEncodeOptions = {}): BatchEncoding {
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
    const truncate = truncation !== false && truncation !== 'do_not_truncate';
    const limit = maxLength ?? this.#modelMaxLength;
    const rows = texts.map((t, i) => {
      if (typeof t !== 'string') expected('a string', `texts[${i}]`, t);
      const ids = this.encode(t);
      return truncate && ids.length > limit ? ids.slice(0, limit) : ids;
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

  /** Text of `ids` (Hugging Face decode: byte-level inverse, invalid UTF-8 replaced by U+FFFD). */
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
    return this.#core.addedByContent.get(token)?.id ?? this.#core.vocab.get(token) ?? null;
  }

  /** Token string of an id, or null. */
  idToToken(id: number): string | null {
    return this.#core.idToToken.get(id) ?? null;
  }

  /** Size of the base vocabulary (Hugging Face `vocab_size`; 50257 for GPT-2). */
  get vocab_size(): number {
    return this.#core.baseVocabSize;
  }

  /** Number of distinct ids including added tokens (Hugging Face `len(tokenizer)`). */
  get vocabSizeWithAddedTokens(): number {
    return this.#core.idToToken.size;
  }

  get model_max_length(): number {
    return this.#modelMaxLength;
  }

  /** The default of decode()'s clean_up_tokenization_spaces. */
  get clean_up_tokenization_spaces(): boolean {
    return this.#cleanUp;
  }

  get bos_token(): string | null {
    return this.#special.bos_token;
  }
  get eos_token(): string | null {
    return this.#special.eos_token;
  }
  get unk_token(): string | null {
    return this.#special.unk_token;
  }
  get pad_token(): string | null {
    return this.#special.pad_token;
  }
  get bos_token_id(): number | null {
    return this.#special.bos_token === null ? null : this.tokenToId(this.#special.bos_token);
  }
  get eos_token_id(): number | null {
    return this.#special.eos_token === null ? null : this.tokenToId(this.#special.eos_token);
  }
  get unk_token_id(): number | null {
    return this.#special.unk_token === null ? null : this.tokenToId(this.#special.unk_token);
  }
  /** null when the tokenizer defines no pad token (GPT-2): see withPadToken(). */
  get pad_token_id(): number | null {
    return this.#special.pad_token === null ? null : this.tokenToId(this.#special.pad_token);
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
      else delete out[name];
    }
    if (this.#special.additional_special_tokens.length) out.additional_special_tokens = [...this.#special.additional_special_tokens];
    out.add_prefix_space = false;
    out.clean_up_tokenization_spaces = this.#cleanUp;
    out.model_max_length = this.#modelMaxLength === Number.MAX_SAFE_INTEGER ? 1e30 : this.#modelMaxLength;
    out.tokenizer_class ??= 'GPT2Tokenizer';
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
   * Write tokenizer.json, tokenizer_config.json and special_tokens_map.json (and vocab.json + merges.txt when
   * it was loaded from them) into `dir`, loadable by Python transformers and by fromPretrained().
   */
  async save(dir: string): Promise<void> {
    if (typeof dir !== 'string') expected('a folder path', 'Tokenizer.save dir', dir);
    await mkdir(dir, { recursive: true });
    const writes = [
      writeFile(join(dir, 'tokenizer.json'), JSON.stringify(this.#core.json, null, 2) + '\n'),
      writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(this.tokenizerConfig(), null, 2) + '\n'),
      writeFile(join(dir, 'special_tokens_map.json'), JSON.stringify(this.specialTokensMap(), null, 2) + '\n'),
    ];
    if (this.#core.files) {
      writes.push(writeFile(join(dir, 'vocab.json'), this.#core.files.vocab), writeFile(join(dir, 'merges.txt'), this.#core.files.merges));
    }
    await Promise.all(writes);
  }

  toString(): string {
    return `Tokenizer(${this.#core.kind === 'bpe' ? 'byte-level BPE' : 'word level'}, vocab_size ${this.vocab_size}, eos ${JSON.stringify(this.eos_token)})`;
  }
}
