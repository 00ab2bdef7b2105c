// BERT WordPiece and RoBERTa byte-level BPE tokenizers built from the legacy files of the model fixtures, as
// BertTokenizerFast / RobertaTokenizerFast build them: every case of fixtures/tokenizer/bert_uncased_cases.json,
// the RoBERTa conventions, save/load round trips per family, the GPT-2 special token without config files, and
// the async variants.
import { copyFile, mkdir } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithFixtures } from '../helpers/fixtures.js';
import { Tokenizer } from '../../lib/processing/index.js';
import { tempDir } from './helpers.js';

interface BertCase {
  text: string;
  ids: number[];
  ids_no_special: number[];
  tokens: string[];
  decoded: string;
  decoded_with_cleanup: string;
  decoded_keep_special: string;
}

const tmp = tempDir('tc-tokfam-');
afterAll(() => tmp.cleanup());

/** Everything observable of a tokenizer that a save/load round trip must keep. */
function summary(t: Tokenizer) {
  return {
    family: t.family,
    vocab_size: t.vocab_size,
    withAdded: t.vocabSizeWithAddedTokens,
    ids: [t.bos_token_id, t.eos_token_id, t.pad_token_id, t.cls_token_id, t.sep_token_id, t.unk_token_id, t.mask_token_id],
    wrap: t.special_tokens_wrap,
    model_max_length: t.model_max_length,
    clean: t.clean_up_tokenization_spaces,
    added: t.added_tokens,
    config: t.tokenizerConfig(),
    map: t.specialTokensMap(),
  };
}

async function roundTrip(t: Tokenizer, name: string): Promise<Tokenizer> {
  const dir = join(tmp.dir, name);
  await t.save(dir);
  // Only what save() writes that the tokenizer.json path reads: no legacy files next to it.
  const only = join(tmp.dir, `${name}-json-only`);
  await mkdir(only, { recursive: true });
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']) await copyFile(join(dir, f), join(only, f));
  return Tokenizer.fromPretrained(only);
}

describeWithFixtures('BERT WordPiece tokenizer (models/deit-bert-tiny, fixtures/tokenizer/bert_uncased_cases.json)', (root) => {
  const fixture = JSON.parse(readFileSync(join(root, 'tokenizer', 'bert_uncased_cases.json'), 'utf8')) as { cases: BertCase[]; count: number };
  let tok: Tokenizer;
  let again: Tokenizer;
  beforeAll(async () => {
    tok = await Tokenizer.fromPretrained(join(root, 'models', 'deit-bert-tiny'));
    again = await roundTrip(tok, 'bert');
  });

  it('has the BERT special tokens and no bos/eos', () => {
    expect(tok.family).toBe('bert');
    expect(tok.vocab_size).toBe(30522);
    expect([tok.pad_token_id, tok.unk_token_id, tok.cls_token_id, tok.sep_token_id, tok.mask_token_id]).toEqual([0, 100, 101, 102, 103]);
    expect(tok.bos_token_id).toBeNull();
    expect(tok.eos_token_id).toBeNull();
    expect(tok.special_tokens_wrap).toEqual({ start: [101], end: [102] });
    expect(tok.model_max_length).toBe(512);
  });

  it('encodes every case exactly (ids with and without special tokens, tokens)', () => {
    expect(fixture.cases.length).toBe(fixture.count);
    const texts = fixture.cases.map((c) => c.text);
    expect(tok.encodeBatch(texts)).toEqual(fixture.cases.map((c) => c.ids));
    expect(tok.encodeBatch(texts, { add_special_tokens: false })).toEqual(fixture.cases.map((c) => c.ids_no_special));
    for (const c of fixture.cases) {
      expect(tok.encode(c.text), JSON.stringify(c.text)).toEqual(c.ids);
      expect(tok.tokenize(c.text), JSON.stringify(c.text)).toEqual(c.tokens);
    }
  });

  it('decodes every case exactly (skip special tokens, clean-up on and off)', () => {
    for (const c of fixture.cases) {
      expect(tok.decode(c.ids, { skip_special_tokens: true, clean_up_tokenization_spaces: false }), JSON.stringify(c.text)).toBe(c.decoded);
      expect(tok.decode(c.ids, { skip_special_tokens: true }), JSON.stringify(c.text)).toBe(c.decoded_with_cleanup);
      expect(tok.decode(c.ids, { clean_up_tokenization_spaces: false }), JSON.stringify(c.text)).toBe(c.decoded_keep_special);
    }
  });

  it('saves files that load back identically', async () => {
    expect(summary(again)).toEqual(summary(tok));
    const texts = fixture.cases.map((c) => c.text);
    expect(again.encodeBatch(texts)).toEqual(tok.encodeBatch(texts));
    for (const c of fixture.cases) expect(again.decode(c.ids, { skip_special_tokens: true })).toBe(c.decoded_with_cleanup);
    expect(readFileSync(join(tmp.dir, 'bert', 'vocab.txt'), 'utf8')).toBe(readFileSync(join(root, 'models', 'deit-bert-tiny', 'vocab.txt'), 'utf8'));
    const cfg = JSON.parse(readFileSync(join(tmp.dir, 'bert', 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
    expect(cfg).toMatchObject({ tokenizer_class: 'BertTokenizer', do_lower_case: true, cls_token: '[CLS]', sep_token: '[SEP]', mask_token: '[MASK]', model_max_length: 512 });
  });

  it('truncates keeping [CLS] and [SEP] and pads with [PAD]', () => {
    const out = tok.batchEncode(['a red circle above a blue square', 'a dog'], { truncation: true, max_length: 5, padding: true });
    expect(out.input_ids).toEqual([
      [101, 1037, 2417, 4418, 102],
      [101, 1037, 3899, 102, 0],
    ]);
    expect(out.attention_mask).toEqual([
      [1, 1, 1, 1, 1],
      [1, 1, 1, 1, 0],
    ]);
  });

  it('encodes asynchronously exactly as synchronously', async () => {
    const texts = fixture.cases.slice(0, 50).map((c) => c.text);
    const fresh = await Tokenizer.fromPretrained(join(root, 'models', 'deit-bert-tiny')); // empty cache
    expect(await fresh.encodeBatchAsync(texts)).toEqual(fixture.cases.slice(0, 50).map((c) => c.ids));
    expect(await fresh.encodeAsync('A dog.', { add_special_tokens: false })).toEqual(tok.encode('A dog.', { add_special_tokens: false }));
    expect((await fresh.batchEncodeAsync(['a dog'], { padding: 'max_length', max_length: 6 })).input_ids).toEqual([[101, 1037, 3899, 102, 0, 0]]);
  });
});

describeWithFixtures('RoBERTa byte-level BPE tokenizer (models/clip-roberta-tiny)', (root) => {
  let tok: Tokenizer;
  let again: Tokenizer;
  beforeAll(async () => {
    tok = await Tokenizer.fromPretrained(join(root, 'models', 'clip-roberta-tiny'));
    again = await roundTrip(tok, 'roberta');
  });

  it('has the RoBERTa special tokens', () => {
    expect(tok.family).toBe('roberta');
    expect(tok.vocab_size).toBe(50265);
    expect([tok.bos_token_id, tok.pad_token_id, tok.eos_token_id, tok.unk_token_id, tok.mask_token_id]).toEqual([0, 1, 2, 3, 50264]);
    expect([tok.cls_token_id, tok.sep_token_id]).toEqual([0, 2]);
    expect(tok.special_tokens_wrap).toEqual({ start: [0], end: [2] });
    expect(tok.added_tokens.find((t) => t.content === '<mask>')).toMatchObject({ id: 50264, lstrip: true, special: true });
  });

  it('wraps texts in <s> ... </s> with the RoBERTa ids (no prefix space)', () => {
    expect(tok.encode('a red circle')).toEqual([0, 102, 1275, 7922, 2]);
    expect(tok.encode('a red circle', { add_special_tokens: false })).toEqual([102, 1275, 7922]);
    expect(tok.tokenize('a red circle')).toEqual(['a', 'Ġred', 'Ġcircle']);
    expect(tok.encode('')).toEqual([0, 2]);
    // <mask> strips the space before it (lstrip), </s> inside text is the special token.
    expect(tok.encode('a <mask> circle', { add_special_tokens: false })).toEqual([102, 50264, 7922]);
    expect(tok.encode('a</s>', { add_special_tokens: false })).toEqual([102, 2]);
  });

  it('decodes with and without special tokens', () => {
    const ids = tok.encode('A red circle above a blue square .');
    expect(tok.decode(ids, { clean_up_tokenization_spaces: false })).toBe('<s>A red circle above a blue square .</s>');
    expect(tok.decode(ids, { skip_special_tokens: true })).toBe('A red circle above a blue square.');
  });

  it('saves files that load back identically', async () => {
    expect(summary(again)).toEqual(summary(tok));
    for (const t of ['a red circle', 'A <mask> of </s> text ', 'café 😀', '']) {
      expect(again.encode(t)).toEqual(tok.encode(t));
      expect(again.decode(tok.encode(t))).toBe(tok.decode(tok.encode(t)));
    }
    expect(readFileSync(join(tmp.dir, 'roberta', 'merges.txt'), 'utf8')).toBe(readFileSync(join(root, 'models', 'clip-roberta-tiny', 'merges.txt'), 'utf8'));
    const cfg = JSON.parse(readFileSync(join(tmp.dir, 'roberta', 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
    expect(cfg).toMatchObject({ tokenizer_class: 'RobertaTokenizer', add_prefix_space: false, bos_token: '<s>', eos_token: '</s>', mask_token: '<mask>' });
  });
});

describeWithFixtures('GPT-2 tokenizer from vocab.json + merges.txt alone', (root) => {
  let tok: Tokenizer;
  beforeAll(async () => {
    const dir = join(tmp.dir, 'gpt2-bare');
    await mkdir(dir, { recursive: true });
    for (const f of ['vocab.json', 'merges.txt']) await copyFile(join(root, 'models', 'vit-gpt2-tiny', f), join(dir, f));
    tok = await Tokenizer.fromPretrained(dir);
  });

  it('treats <|endoftext|> as a special added token, as GPT2Tokenizer(Fast) does', () => {
    expect(tok.family).toBe('gpt2');
    expect(tok.encode('x <|endoftext|> y')).toEqual([87, 220, 50256, 331]);
    expect(tok.tokenize('x <|endoftext|> y')).toEqual(['x', 'Ġ', '<|endoftext|>', 'Ġy']);
    expect(tok.added_tokens).toEqual([expect.objectContaining({ id: 50256, content: '<|endoftext|>', special: true })]);
    expect([tok.bos_token_id, tok.eos_token_id, tok.unk_token_id, tok.pad_token_id]).toEqual([50256, 50256, 50256, null]);
    expect(tok.special_tokens_wrap).toEqual({ start: [], end: [] });
    expect(tok.decode([64, 3290, 50256], { skip_special_tokens: true })).toBe('a dog');
  });

  it('saves files that load back identically', async () => {
    const again = await roundTrip(tok, 'gpt2-bare');
    expect(summary(again)).toEqual(summary(tok));
    expect(again.encode('x <|endoftext|> y')).toEqual([87, 220, 50256, 331]);
  });

  it('encodes asynchronously exactly as synchronously', async () => {
    const texts = ['A man riding a wave.', 'x <|endoftext|> y', ' ', 'café 😀'];
    expect(await tok.encodeBatchAsync(texts)).toEqual(texts.map((t) => tok.encode(t)));
  });
});

describe('Tokenizer encode arguments', () => {
  it('rejects a non-boolean add_special_tokens', async () => {
    const tok = Tokenizer.fromTokenizerJson({
      version: '1.0', truncation: null, padding: null, added_tokens: [], normalizer: null, pre_tokenizer: { type: 'Whitespace' },
      post_processor: null, decoder: null, model: { type: 'WordLevel', vocab: { a: 0, '[UNK]': 1 }, unk_token: '[UNK]' },
    });
    expect(tok.encode('a b')).toEqual([0, 1]);
    expect(() => tok.encode('a', { add_special_tokens: 1 as never })).toThrow(/add_special_tokens/);
    expect(() => tok.encode(3 as never)).toThrow(/string/);
  });
});
