/**
 * Tokenizer families: which family a Hugging Face folder holds, the special tokens of each family's slow
 * tokenizer class, and the tokenizer.json that transformers' converters (convert_slow_tokenizer.py) build from
 * the legacy vocabulary files, as BertTokenizerFast, RobertaTokenizerFast and GPT2TokenizerFast do:
 * - bert: vocab.txt -> BertNormalizer, BertPreTokenizer, WordPiece (`##`, max_input_chars_per_word 100),
 *   TemplateProcessing `[CLS] $A [SEP]`, WordPiece decoder;
 * - roberta: vocab.json + merges.txt -> ByteLevel pre-tokenizer, BPE, RobertaProcessing `<s> $A </s>`,
 *   ByteLevel decoder; `<mask>` with lstrip;
 * - gpt2: vocab.json + merges.txt -> ByteLevel pre-tokenizer, BPE, ByteLevel post-processor (no specials
 *   added), ByteLevel decoder; `<|endoftext|>` a special added token.
 */
import { FormatError } from '../errors.js';

export type TokenizerFamily = 'bert' | 'roberta' | 'gpt2' | 'other';

export type SpecialName = 'bos_token' | 'eos_token' | 'unk_token' | 'sep_token' | 'pad_token' | 'cls_token' | 'mask_token';
export const SPECIAL_NAMES: readonly SpecialName[] = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'];

export type SpecialTokens = Record<SpecialName, string | null> & { additional_special_tokens: string[] };

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

/** The slow tokenizer classes' default special tokens (used when neither config file names the token). */
export const FAMILY_DEFAULTS: Record<TokenizerFamily, Partial<Record<SpecialName, string>>> = {
  bert: { unk_token: '[UNK]', sep_token: '[SEP]', pad_token: '[PAD]', cls_token: '[CLS]', mask_token: '[MASK]' },
  roberta: { bos_token: '<s>', eos_token: '</s>', sep_token: '</s>', cls_token: '<s>', unk_token: '<unk>', pad_token: '<pad>', mask_token: '<mask>' },
  gpt2: { bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', unk_token: '<|endoftext|>' },
  other: {},
};

/** tokenizer_config.json's tokenizer_class written on save when the config has none. */
export const FAMILY_CLASS: Record<TokenizerFamily, string> = {
  bert: 'BertTokenizer',
  roberta: 'RobertaTokenizer',
  gpt2: 'GPT2Tokenizer',
  other: 'PreTrainedTokenizerFast',
};

export function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** A token entry of tokenizer_config.json: a string or an AddedToken object `{content, ...}`. */
export function tokenContent(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (isRecord(v) && typeof v.content === 'string') return v.content;
  return null;
}

const CLASS_FAMILY: [RegExp, TokenizerFamily][] = [
  [/^(Bert|DistilBert|Electra|MobileBert|Funnel|Lxmert|Layout[Ll]M|Squeeze[Bb]ert)Tokenizer(Fast)?$/, 'bert'],
  [/^(Roberta|Bart|Longformer|Blenderbot|Led|Mvp)Tokenizer(Fast)?$/, 'roberta'],
  [/^GPT2Tokenizer(Fast)?$/, 'gpt2'],
];

const MODEL_FAMILY: Record<string, TokenizerFamily> = { bert: 'bert', distilbert: 'bert', electra: 'bert', roberta: 'roberta', gpt2: 'gpt2' };

/**
 * The family of a folder: tokenizer_config.json's tokenizer_class, else config.json's model_type (or its
 * decoder's, for a VisionEncoderDecoder folder), else what the files and vocabulary say.
 */
export function detectFamily(
  config: Record<string, unknown>, modelConfig: Record<string, unknown>, files: 'vocab.txt' | 'vocab.json' | 'tokenizer.json',
  vocab?: Record<string, unknown>,
): TokenizerFamily {
  const cls = config.tokenizer_class;
  if (typeof cls === 'string') for (const [re, fam] of CLASS_FAMILY) if (re.test(cls)) return fam;
  const decoder = modelConfig.decoder;
  const modelType = isRecord(decoder) && typeof decoder.model_type === 'string' ? decoder.model_type : modelConfig.model_type;
  if (typeof modelType === 'string' && MODEL_FAMILY[modelType]) return MODEL_FAMILY[modelType]!;
  if (files === 'vocab.txt') return 'bert';
  if (files === 'vocab.json' && vocab) {
    if ('<|endoftext|>' in vocab) return 'gpt2';
    if ('<s>' in vocab && '</s>' in vocab) return 'roberta';
    return 'gpt2';
  }
  return 'other';
}

/** The family of a tokenizer.json (from its model and post-processor) when the config files do not say. */
export function familyOfJson(json: Record<string, unknown>): TokenizerFamily {
  const model = isRecord(json.model) ? json.model : {};
  const pp = isRecord(json.post_processor) ? json.post_processor : {};
  if (model.type === 'WordPiece') return 'bert';
  if (model.type === 'BPE' && pp.type === 'RobertaProcessing') return 'roberta';
  if (model.type === 'BPE' && containsType(json.pre_tokenizer, 'ByteLevel')) return 'gpt2';
  return 'other';
}

export function containsType(node: unknown, type: string): boolean {
  if (!isRecord(node)) return false;
  if (node.type === type) return true;
  const kids = (node.pretokenizers ?? node.decoders ?? node.normalizers ?? node.processors) as unknown;
  return Array.isArray(kids) && kids.some((k) => containsType(k, type));
}

/** Special tokens: tokenizer_config.json wins over special_tokens_map.json; the family's class defaults fill the rest. */
export function specialTokens(family: TokenizerFamily, config: Record<string, unknown>, map: Record<string, unknown>): SpecialTokens {
  const special = { additional_special_tokens: [] as string[] } as SpecialTokens;
  for (const name of SPECIAL_NAMES) {
    special[name] = tokenContent(config[name]) ?? tokenContent(map[name]);
    // An explicit null in either file means "none"; only an absent entry takes the class default.
    if (special[name] === null && !(name in config) && !(name in map)) special[name] = FAMILY_DEFAULTS[family][name] ?? null;
  }
  const extra = (config.additional_special_tokens ?? map.additional_special_tokens) as unknown;
  if (Array.isArray(extra)) special.additional_special_tokens = extra.map(tokenContent).filter((t): t is string => t !== null);
  return special;
}

/** The AddedToken flags tokenizer_config.json / special_tokens_map.json give a special token, if any. */
function tokenFlags(name: SpecialName, config: Record<string, unknown>, map: Record<string, unknown>): Partial<AddedTokenInfo> {
  const v = isRecord(config[name]) ? config[name] : isRecord(map[name]) ? map[name] : null;
  if (!v) return {};
  const out: Partial<AddedTokenInfo> = {};
  for (const k of ['lstrip', 'rstrip', 'single_word', 'normalized', 'special'] as const) if (typeof v[k] === 'boolean') out[k] = v[k] as boolean;
  return out;
}

/**
 * The added_tokens of a converted tokenizer: tokenizer_config.json's added_tokens_decoder, then added_tokens.json
 * (`fileAdded`, token -> id; a token there is special when it is one of the special tokens, as transformers'
 * from_pretrained adds them, and otherwise an ordinary added token matched on the normalized text), then every
 * special token (special, no strip, not normalized unless the config says otherwise); a token missing from the
 * vocabulary gets the next free id, as transformers' add_special_tokens does.
 */
function addedTokens(
  family: TokenizerFamily, vocab: Record<string, number>, special: SpecialTokens, config: Record<string, unknown>, map: Record<string, unknown>,
  fileAdded: Record<string, number>,
): Record<string, unknown>[] {
  let nextId = 0;
  for (const id of Object.values(vocab)) nextId = Math.max(nextId, id + 1);
  const added: Record<string, unknown>[] = [];
  const seen = new Set<string>();
  const add = (content: string, flags: Partial<AddedTokenInfo>, id?: number): void => {
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
  const table = config.added_tokens_decoder;
  if (isRecord(table)) {
    for (const [idText, t] of Object.entries(table)) if (isRecord(t) && typeof t.content === 'string') add(t.content, t as Partial<AddedTokenInfo>, Number(idText));
  }
  const specials = new Set([...SPECIAL_NAMES.map((n) => special[n]), ...special.additional_special_tokens].filter((t): t is string => t !== null));
  for (const [content, id] of Object.entries(fileAdded).sort(([, a], [, b]) => a - b)) {
    const isSpecial = specials.has(content);
    add(content, { special: isSpecial, normalized: !isSpecial }, id);
    nextId = Math.max(nextId, id + 1);
  }
  for (const name of SPECIAL_NAMES) {
    const t = special[name];
    if (t === null) continue;
    const flags = tokenFlags(name, config, map);
    // RobertaTokenizer makes its mask token AddedToken(lstrip=True).
    if (family === 'roberta' && name === 'mask_token' && flags.lstrip === undefined) flags.lstrip = true;
    add(t, flags);
  }
  for (const t of special.additional_special_tokens) add(t, { special: true });
  return added.sort((a, b) => (a.id as number) - (b.id as number));
}

function idOf(token: string | null, vocab: Record<string, number>, added: Record<string, unknown>[], what: string, file: string): number {
  const a = added.find((t) => t.content === token);
  const id = (a?.id as number | undefined) ?? (token !== null ? vocab[token] : undefined);
  if (token === null || id === undefined) throw new FormatError(`Cannot build the tokenizer of ${file}: no ${what} token`);
  return id;
}

/**
 * Validate added_tokens.json (token -> id, the tokens transformers adds on top of the vocabulary file): every id
 * a non-negative integer that is not already another token of the vocabulary.
 */
export function checkAddedTokensFile(added: unknown, vocab: Record<string, number>, file: string): Record<string, number> {
  const out = checkVocab(added, file);
  const byId = new Map<number, string>();
  for (const [tok, id] of Object.entries(vocab)) byId.set(id, tok);
  for (const [tok, id] of Object.entries(out)) {
    const there = byId.get(id);
    if (there !== undefined && there !== tok) {
      throw new FormatError(`Cannot parse ${file}: id ${id} of ${JSON.stringify(tok)} is already ${JSON.stringify(there)} in the vocabulary`);
    }
  }
  return out;
}

/** Validate a token -> id object (vocab.json or parsed vocab.txt). */
export function checkVocab(vocab: unknown, file: string): Record<string, number> {
  if (!isRecord(vocab)) throw new FormatError(`Cannot parse ${file}: expected a JSON object of token -> id`);
  for (const [tok, id] of Object.entries(vocab)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) throw new FormatError(`Cannot parse ${file}: id of ${JSON.stringify(tok)} is not a non-negative integer`);
  }
  return vocab as Record<string, number>;
}

/** transformers' load_vocab: one token per line (only the line feed stripped), id = line number. */
export function parseVocabTxt(text: string): Record<string, number> {
  const lines = text.split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  const vocab: Record<string, number> = Object.create(null) as Record<string, number>;
  lines.forEach((tok, i) => {
    vocab[tok] = i;
  });
  return { ...vocab };
}

export function parseMergesText(text: string, file: string): string[] {
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

const BASE = { version: '1.0', truncation: null, padding: null };

/** BertTokenizerFast's tokenizer.json for a vocab.txt (BertConverter). */
export function bertJson(
  vocab: Record<string, number>, special: SpecialTokens, config: Record<string, unknown>, map: Record<string, unknown>, file: string,
  fileAdded: Record<string, number> = {},
): Record<string, unknown> {
  const added = addedTokens('bert', vocab, special, config, map, fileAdded);
  const cls = special.cls_token;
  const sep = special.sep_token;
  const clsId = idOf(cls, vocab, added, 'cls', file);
  const sepId = idOf(sep, vocab, added, 'sep', file);
  const flag = (k: string, dflt: boolean | null) => (typeof config[k] === 'boolean' ? (config[k] as boolean) : dflt);
  const spec = (id: string, type_id: number) => ({ SpecialToken: { id, type_id } });
  const seq = (id: 'A' | 'B', type_id: number) => ({ Sequence: { id, type_id } });
  return {
    ...BASE,
    added_tokens: added,
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: flag('tokenize_chinese_chars', true),
      strip_accents: flag('strip_accents', null),
      lowercase: flag('do_lower_case', true),
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [spec(cls!, 0), seq('A', 0), spec(sep!, 0)],
      pair: [spec(cls!, 0), seq('A', 0), spec(sep!, 0), seq('B', 1), spec(sep!, 1)],
      special_tokens: {
        [cls!]: { id: cls, ids: [clsId], tokens: [cls] },
        [sep!]: { id: sep, ids: [sepId], tokens: [sep] },
      },
    },
    // cleanup: false, unlike BertConverter's default: clean-up is decode()'s clean_up_tokenization_spaces
    // (transformers applies it after the decoder), so that false really means no clean-up, as the slow
    // BertTokenizer does.
    decoder: { type: 'WordPiece', prefix: '##', cleanup: false },
    model: { type: 'WordPiece', unk_token: special.unk_token ?? '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
}

function bpeModel(vocab: Record<string, number>, merges: string[]): Record<string, unknown> {
  return {
    type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false,
    ignore_merges: false, vocab, merges,
  };
}

/** RobertaTokenizerFast's tokenizer.json for vocab.json + merges.txt (RobertaConverter). */
export function robertaJson(
  vocab: Record<string, number>, merges: string[], special: SpecialTokens, config: Record<string, unknown>, map: Record<string, unknown>, file: string,
  fileAdded: Record<string, number> = {},
): Record<string, unknown> {
  const added = addedTokens('roberta', vocab, special, config, map, fileAdded);
  const addPrefix = config.add_prefix_space === true;
  const trim = config.trim_offsets !== false;
  return {
    ...BASE,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: addPrefix, trim_offsets: true, use_regex: true },
    post_processor: {
      type: 'RobertaProcessing',
      sep: [special.sep_token, idOf(special.sep_token, vocab, added, 'sep', file)],
      cls: [special.cls_token, idOf(special.cls_token, vocab, added, 'cls', file)],
      trim_offsets: trim,
      add_prefix_space: addPrefix,
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: bpeModel(vocab, merges),
  };
}

/** GPT2TokenizerFast's tokenizer.json for vocab.json + merges.txt (GPT2Converter). */
export function gpt2Json(
  vocab: Record<string, number>, merges: string[], special: SpecialTokens, config: Record<string, unknown>, map: Record<string, unknown>,
  fileAdded: Record<string, number> = {},
): Record<string, unknown> {
  const addPrefix = config.add_prefix_space === true;
  return {
    ...BASE,
    added_tokens: addedTokens('gpt2', vocab, special, config, map, fileAdded),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: addPrefix, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: bpeModel(vocab, merges),
  };
}

/** The ids a post-processor puts before and after a single sequence. */
export interface SpecialTokensWrap {
  readonly start: readonly number[];
  readonly end: readonly number[];
}

/** SpecialTokensWrap of a tokenizer.json post_processor; null for a kind this does not know. */
export function wrapOfPostProcessor(pp: unknown): SpecialTokensWrap | null {
  if (pp === null || pp === undefined) return { start: [], end: [] };
  if (!isRecord(pp)) return null;
  switch (pp.type) {
    case 'ByteLevel':
      return { start: [], end: [] };
    case 'RobertaProcessing':
    case 'BertProcessing': {
      const cls = pp.cls;
      const sep = pp.sep;
      if (!Array.isArray(cls) || !Array.isArray(sep) || typeof cls[1] !== 'number' || typeof sep[1] !== 'number') return null;
      return { start: [cls[1]], end: [sep[1]] };
    }
    case 'TemplateProcessing': {
      if (!Array.isArray(pp.single) || !isRecord(pp.special_tokens)) return null;
      const table = pp.special_tokens;
      const start: number[] = [];
      const end: number[] = [];
      let seen = false;
      for (const piece of pp.single) {
        if (!isRecord(piece)) return null;
        if (isRecord(piece.Sequence)) {
          if (seen) return null;
          seen = true;
        } else if (isRecord(piece.SpecialToken) && typeof piece.SpecialToken.id === 'string') {
          const entry = table[piece.SpecialToken.id];
          if (!isRecord(entry) || !Array.isArray(entry.ids)) return null;
          (seen ? end : start).push(...(entry.ids as number[]));
        } else return null;
      }
      return seen ? { start, end } : null;
    }
    case 'Sequence': {
      if (!Array.isArray(pp.processors)) return null;
      let start: number[] = [];
      let end: number[] = [];
      for (const p of pp.processors) {
        const w = wrapOfPostProcessor(p);
        if (w === null) return null;
        start = [...w.start, ...start];
        end = [...end, ...w.end];
      }
      return { start, end };
    }
    default:
      return null;
  }
}
