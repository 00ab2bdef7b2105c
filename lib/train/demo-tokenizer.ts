/**
 * A word-level tokenizer for small closed vocabularies (the synthetic shapes captions): built with the
 * `tokenizers` package (WordLevel model, Whitespace pre-tokenizer, optional Lowercase normalizer; special
 * tokens `<|endoftext|>` as bos/eos/pad and `[UNK]`), saved as a Hugging Face tokenizer.json that Python's
 * PreTrainedTokenizerFast loads. Words are split and lower-cased by `tokenizers` itself, both when the
 * vocabulary is built and when text is encoded; encode()/decode() are lib/processing's Tokenizer on the
 * same tokenizer.json (synchronous, as the data loader needs).
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { lowercase, Tokenizer as RustTokenizer, whitespacePreTokenizer } from 'tokenizers';
import { expected, FormatError } from '../errors.js';
import { readJsonObject } from '../json.js';
import { Tokenizer } from '../processing/tokenizer.js';
import type { CaptionTokenizer } from '../types.js';

/** loadTokenizer moved to lib/processing/load-tokenizer.ts (inference needs it without lib/train); re-exported here. */
export { loadTokenizer } from '../processing/load-tokenizer.js';

export const DEFAULT_EOS = '<|endoftext|>';
export const DEFAULT_UNK = '[UNK]';


export interface WordLevelBuildOptions {
  /** Lower-case texts before splitting (a Lowercase normalizer in tokenizer.json). Default true. */
  lowercase?: boolean;
  /** Words seen fewer times are left out (they encode to [UNK]). Default 1. */
  min_frequency?: number;
  /** bos/eos/pad token. Default `<|endoftext|>` (GPT-2's). */
  eos_token?: string;
  unk_token?: string;
  /** model_max_length written to tokenizer_config.json. Default 1024. */
  model_max_length?: number;
}

/**
 * The part of the `tokenizers` package's Tokenizer class that toRust() promises (the object is a real one; cast
 * it to the tokenizers package's Tokenizer type for the rest). Declared here because the `tokenizers` package's own
 * declarations fail to compile without skipLibCheck.
 */
export interface TokenizersTokenizer {
  encode(sentence: string, pair?: string | null, encodeOptions?: { addSpecialTokens?: boolean; isPretokenized?: boolean } | null): Promise<TokenizersEncoding>;
  encodeBatch(sentences: string[], encodeOptions?: { addSpecialTokens?: boolean; isPretokenized?: boolean } | null): Promise<TokenizersEncoding[]>;
  decode(ids: number[], skipSpecialTokens: boolean): Promise<string>;
  decodeBatch(ids: number[][], skipSpecialTokens: boolean): Promise<string[]>;
  save(path: string, pretty?: boolean | null): void;
  getVocab(withAddedTokens?: boolean | null): Record<string, number>;
  getVocabSize(withAddedTokens?: boolean | null): number;
  idToToken(id: number): string | null;
  tokenToId(token: string): number | null;
}

/** The part of the `tokenizers` package's Encoding that TokenizersTokenizer's encode gives. */
export interface TokenizersEncoding {
  getIds(): number[];
  getTokens(): string[];
  getAttentionMask(): number[];
  getTypeIds(): number[];
  getOffsets(): number[][];
  getLength(): number;
}

export class WordLevelTokenizer implements CaptionTokenizer {
  readonly #vocab: Map<string, number>;
  readonly #idToToken: Map<number, string>;
  readonly #lowercase: boolean;
  readonly #eos: string;
  readonly #unk: string;
  readonly #modelMaxLength: number;
  /** The same tokenizer.json as lib/processing's Tokenizer: encode and decode run there. */
  readonly #tok: Tokenizer;

  private constructor(vocab: Map<string, number>, opts: { lowercase: boolean; eos: string; unk: string; modelMaxLength: number }) {
    this.#vocab = vocab;
    this.#idToToken = new Map([...vocab].map(([t, i]) => [i, t]));
    this.#lowercase = opts.lowercase;
    this.#eos = opts.eos;
    this.#unk = opts.unk;
    this.#modelMaxLength = opts.modelMaxLength;
    for (const t of [opts.eos, opts.unk]) {
      if (!vocab.has(t)) throw new FormatError(`The word-level vocabulary lacks the special token ${JSON.stringify(t)}`);
    }
    this.#tok = Tokenizer.fromTokenizerJson(this.#tokenizerJson(), this.#tokenizerConfig());
  }

  /** tokenizer.json: the one description of this tokenizer (toRust() and encode/decode are built from it). */
  #tokenizerJson(): Record<string, unknown> {
    const added = [this.#eos, this.#unk].map((content) => ({
      id: this.#vocab.get(content)!, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
    }));
    return {
      version: '1.0', truncation: null, padding: null, added_tokens: added,
      normalizer: this.#lowercase ? { type: 'Lowercase' } : null,
      pre_tokenizer: { type: 'Whitespace' },
      post_processor: null, decoder: null,
      model: { type: 'WordLevel', vocab: Object.fromEntries(this.#vocab), unk_token: this.#unk },
    };
  }

  #tokenizerConfig(): Record<string, unknown> {
    return {
      tokenizer_class: 'PreTrainedTokenizerFast',
      bos_token: this.#eos, eos_token: this.#eos, pad_token: this.#eos, unk_token: this.#unk,
      clean_up_tokenization_spaces: true,
      model_max_length: this.#modelMaxLength,
    };
  }

  /**
   * Build the vocabulary from texts: special tokens first (`<|endoftext|>` = 0, `[UNK]` = 1), then words by
   * descending frequency (ties alphabetical), so the same texts always give the same ids.
   */
  static build(texts: Iterable<string>, opts: WordLevelBuildOptions = {}): WordLevelTokenizer {
    const lower = opts.lowercase ?? true;
    const minFreq = opts.min_frequency ?? 1;
    const eos = opts.eos_token ?? DEFAULT_EOS;
    const unk = opts.unk_token ?? DEFAULT_UNK;
    if (!Number.isInteger(minFreq) || minFreq < 1) expected('an integer >= 1', 'min_frequency', minFreq);
    const normalizer = lower ? lowercase() : null;
    const preTokenizer = whitespacePreTokenizer();
    const counts = new Map<string, number>();
    for (const text of texts) {
      if (typeof text !== 'string') expected('strings', 'WordLevelTokenizer.build texts', text);
      for (const [w] of preTokenizer.preTokenizeString(normalizer ? normalizer.normalizeString(text) : text)) counts.set(w, (counts.get(w) ?? 0) + 1);
    }
    const vocab = new Map<string, number>([[eos, 0], [unk, 1]]);
    const words = [...counts].filter(([w, c]) => c >= minFreq && !vocab.has(w)).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    for (const [w] of words) vocab.set(w, vocab.size);
    return new WordLevelTokenizer(vocab, { lowercase: lower, eos, unk, modelMaxLength: opts.model_max_length ?? 1024 });
  }

  /** Load a folder whose tokenizer.json has a WordLevel model (as save() writes it). */
  static async fromPretrained(dir: string): Promise<WordLevelTokenizer> {
    const path = join(dir, 'tokenizer.json');
    const json = await readJsonObject(path);
    const model = json.model as Record<string, unknown> | undefined;
    if (!model || model.type !== 'WordLevel' || typeof model.vocab !== 'object' || model.vocab === null) {
      throw new FormatError(`${path} does not hold a WordLevel tokenizer`);
    }
    const vocab = new Map<string, number>();
    for (const [t, id] of Object.entries(model.vocab as Record<string, unknown>)) {
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) throw new FormatError(`${path}: id of ${JSON.stringify(t)} is not a non-negative integer`);
      vocab.set(t, id);
    }
    const configPath = join(dir, 'tokenizer_config.json');
    const config = existsSync(configPath) ? await readJsonObject(configPath) : {};
    const normalizer = json.normalizer as Record<string, unknown> | null;
    const lower = normalizer !== null && normalizer !== undefined && JSON.stringify(normalizer).includes('"Lowercase"');
    const eos = typeof config.eos_token === 'string' ? config.eos_token : DEFAULT_EOS;
    const unk = typeof model.unk_token === 'string' ? model.unk_token : DEFAULT_UNK;
    const mml = typeof config.model_max_length === 'number' ? config.model_max_length : 1024;
    return new WordLevelTokenizer(vocab, { lowercase: lower, eos, unk, modelMaxLength: mml });
  }

  /**
   * The same tokenizer as a `tokenizers` (Rust) instance, parsed from the one tokenizer.json description. Typed
   * with this package's TokenizersTokenizer (the methods of the `tokenizers` class this is meant for) so that the
   * package's declarations do not import the `tokenizers` package's, which do not compile with skipLibCheck: false.
   */
  toRust(): TokenizersTokenizer {
    return RustTokenizer.fromString(JSON.stringify(this.#tokenizerJson()));
  }

  /** Word strings of a text, as the Whitespace pre-tokenizer splits it (special tokens kept whole). */
  tokenize(text: string): string[] {
    return this.#tok.tokenize(text);
  }

  encode(text: string): number[] {
    return this.#tok.encode(text);
  }

  decode(ids: readonly number[], opts: { skip_special_tokens?: boolean; clean_up_tokenization_spaces?: boolean } = {}): string {
    return this.#tok.decode(ids, opts);
  }

  batchDecode(rows: readonly (readonly number[])[], opts: { skip_special_tokens?: boolean } = {}): string[] {
    return rows.map((r) => this.decode(r, opts));
  }

  tokenToId(token: string): number | null {
    return this.#vocab.get(token) ?? null;
  }

  idToToken(id: number): string | null {
    return this.#idToToken.get(id) ?? null;
  }

  get vocab(): Record<string, number> {
    return Object.fromEntries(this.#vocab);
  }

  get vocab_size(): number {
    return this.#vocab.size;
  }

  get vocabSizeWithAddedTokens(): number {
    return this.#vocab.size;
  }

  get eos_token(): string {
    return this.#eos;
  }
  get bos_token(): string {
    return this.#eos;
  }
  get pad_token(): string {
    return this.#eos;
  }
  get unk_token(): string {
    return this.#unk;
  }
  get eos_token_id(): number {
    return this.#vocab.get(this.#eos)!;
  }
  get bos_token_id(): number {
    return this.eos_token_id;
  }
  get pad_token_id(): number {
    return this.eos_token_id;
  }
  get unk_token_id(): number {
    return this.#vocab.get(this.#unk)!;
  }
  get model_max_length(): number {
    return this.#modelMaxLength;
  }

  /** tokenizer.json (written by the `tokenizers` package), tokenizer_config.json, special_tokens_map.json. */
  async save(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    this.toRust().save(join(dir, 'tokenizer.json'), true);
    const special = { bos_token: this.#eos, eos_token: this.#eos, pad_token: this.#eos, unk_token: this.#unk };
    await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(this.#tokenizerConfig(), null, 2) + '\n');
    await writeFile(join(dir, 'special_tokens_map.json'), JSON.stringify(special, null, 2) + '\n');
  }

  toString(): string {
    return `WordLevelTokenizer(vocab_size ${this.vocab_size}, eos ${JSON.stringify(this.#eos)})`;
  }
}

