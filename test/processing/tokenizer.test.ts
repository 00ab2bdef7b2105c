// Tokenizer: every case of fixtures/tokenizer/gpt2_cases.json token for token, the Rust `tokenizers` encoder
// as a cross-check, batchEncode/pad semantics, save/load round trips, and round-trip properties.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { Tokenizer as RustTokenizer } from 'tokenizers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithFixtures } from '../helpers/fixtures.js';
import { FormatError, InvalidArgumentError } from '../../lib/errors.js';
import { Tokenizer, cleanUpTokenization } from '../../lib/processing/index.js';
import { tempDir } from './helpers.js';

interface Case {
  text: string;
  ids: number[];
  tokens: string[];
  bpe_ids: number[];
  hf_differs_from_plain_bpe: boolean;
  decoded: string;
  decoded_with_cleanup: string;
  roundtrip_exact: boolean;
}

const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** Whitespace-only texts: today's fast tokenizers return their BPE tokens where transformers 4.9 returned []. */
const isWhitespaceOnly = (t: string) => t.length > 0 && t.trim() === '';

describeWithFixtures('Tokenizer vs the HF GPT2Tokenizer reference (fixtures/tokenizer)', (root) => {
  const modelDir = join(root, 'models', 'vit-gpt2-tiny');
  const file = join(root, 'tokenizer', 'gpt2_cases.json');
  const fixture = JSON.parse(readFileSync(file, 'utf8')) as { cases: Case[]; count: number };
  let tok: Tokenizer;
  let fromJson: Tokenizer;

  beforeAll(async () => {
    tok = await Tokenizer.fromPretrained(modelDir);
    // The same tokenizer saved (tokenizer.json written) and loaded back through the tokenizer.json path.
    const dir = join(tmp.dir, 'saved-gpt2');
    await tok.save(dir);
    fromJson = await (async () => {
      const only = join(tmp.dir, 'json-only');
      const { mkdir, copyFile } = await import('node:fs/promises');
      await mkdir(only, { recursive: true });
      await copyFile(join(dir, 'tokenizer.json'), join(only, 'tokenizer.json'));
      await copyFile(join(dir, 'tokenizer_config.json'), join(only, 'tokenizer_config.json'));
      return Tokenizer.fromPretrained(only);
    })();
  });

  it('has GPT-2 special tokens', () => {
    expect(fixture.cases.length).toBe(fixture.count);
    expect(tok.vocab_size).toBe(50257);
    expect(tok.eos_token_id).toBe(50256);
    expect(tok.bos_token_id).toBe(50256);
    expect(tok.eos_token).toBe('<|endoftext|>');
    expect(tok.pad_token_id).toBe(50256); // this fixture's tokenizer_config.json sets pad_token
    expect(tok.clean_up_tokenization_spaces).toBe(true);
  });

  it('encodes every case token-exact (ids and tokens)', () => {
    let n = 0;
    for (const c of fixture.cases) {
      const want = c.hf_differs_from_plain_bpe && isWhitespaceOnly(c.text) ? c.bpe_ids : c.ids;
      expect(tok.encode(c.text), JSON.stringify(c.text)).toEqual(want);
      expect(fromJson.encode(c.text), JSON.stringify(c.text)).toEqual(want);
      if (want === c.ids) expect(tok.tokenize(c.text), JSON.stringify(c.text)).toEqual(c.tokens);
      n++;
    }
    expect(n).toBe(330);
  });

  it('decodes every case exactly, with and without clean-up', () => {
    for (const c of fixture.cases) {
      if (isWhitespaceOnly(c.text)) {
        expect(tok.decode(c.bpe_ids, { clean_up_tokenization_spaces: false })).toBe(c.text);
        continue;
      }
      expect(tok.decode(c.ids, { clean_up_tokenization_spaces: false }), JSON.stringify(c.text)).toBe(c.decoded);
      expect(tok.decode(c.ids), JSON.stringify(c.text)).toBe(c.decoded_with_cleanup);
      expect(cleanUpTokenization(c.decoded)).toBe(c.decoded_with_cleanup);
    }
  });

  it('agrees with the Rust tokenizers encoder on every case', async () => {
    const dir = join(tmp.dir, 'saved-gpt2');
    const rust = RustTokenizer.fromFile(join(dir, 'tokenizer.json'));
    const encodings = await rust.encodeBatch(fixture.cases.map((c) => c.text));
    fixture.cases.forEach((c, i) => expect(tok.encode(c.text), JSON.stringify(c.text)).toEqual(encodings[i]!.getIds()));
  });

  it('skips special tokens on request', () => {
    const ids = tok.encode('a dog<|endoftext|>');
    expect(ids).toEqual([64, 3290, 50256]);
    expect(tok.decode(ids)).toBe('a dog<|endoftext|>');
    expect(tok.decode(ids, { skip_special_tokens: true })).toBe('a dog');
  });

  it('writes vocab.json / merges.txt back unchanged and a tokenizer.json that round-trips', async () => {
    const dir = join(tmp.dir, 'saved-gpt2');
    expect(readFileSync(join(dir, 'vocab.json'), 'utf8')).toBe(readFileSync(join(modelDir, 'vocab.json'), 'utf8'));
    expect(readFileSync(join(dir, 'merges.txt'), 'utf8')).toBe(readFileSync(join(modelDir, 'merges.txt'), 'utf8'));
    const cfg = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
    expect(cfg).toMatchObject({ tokenizer_class: 'GPT2Tokenizer', eos_token: '<|endoftext|>', add_prefix_space: false, model_max_length: 1024, clean_up_tokenization_spaces: true });
    const map = JSON.parse(readFileSync(join(dir, 'special_tokens_map.json'), 'utf8')) as Record<string, unknown>;
    expect(map).toEqual({ bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', unk_token: '<|endoftext|>', pad_token: '<|endoftext|>' });
    const json = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) as { added_tokens: { id: number; content: string; special: boolean }[] };
    expect(json.added_tokens).toEqual([expect.objectContaining({ id: 50256, content: '<|endoftext|>', special: true })]);
    const again = await Tokenizer.fromPretrained(dir);
    expect(again.encode('A man riding a wave.')).toEqual(tok.encode('A man riding a wave.'));
  });

  it('batchEncode truncates and pads with Hugging Face semantics', () => {
    const texts = ['a dog', 'a cat on a red mat', ''];
    expect(tok.batchEncode(texts)).toEqual({
      input_ids: [[64, 3290], [64, 3797, 319, 257, 2266, 2603], []],
      attention_mask: [[1, 1], [1, 1, 1, 1, 1, 1], []],
    });
    const padded = tok.batchEncode(texts, { padding: true, truncation: true, max_length: 4 });
    expect(padded.input_ids).toEqual([[64, 3290, 50256, 50256], [64, 3797, 319, 257], [50256, 50256, 50256, 50256]]);
    expect(padded.attention_mask).toEqual([[1, 1, 0, 0], [1, 1, 1, 1], [0, 0, 0, 0]]);
    const maxLen = tok.batchEncode(['a dog'], { padding: 'max_length', max_length: 5, padding_side: 'left' });
    expect(maxLen).toEqual({ input_ids: [[50256, 50256, 50256, 64, 3290]], attention_mask: [[0, 0, 0, 1, 1]] });
    // max_length without truncation does not truncate (as in Hugging Face).
    expect(tok.batchEncode(['a cat on a red mat'], { max_length: 2 }).input_ids[0]!.length).toBe(6);
  });

  it('needs an explicit pad token when the tokenizer has none (GPT-2), via withPadToken', async () => {
    const dir = join(tmp.dir, 'no-pad');
    const { mkdir, copyFile, writeFile } = await import('node:fs/promises');
    await mkdir(dir, { recursive: true });
    await copyFile(join(modelDir, 'vocab.json'), join(dir, 'vocab.json'));
    await copyFile(join(modelDir, 'merges.txt'), join(dir, 'merges.txt'));
    await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ model_max_length: 1024, tokenizer_class: 'GPT2Tokenizer' }));
    const plain = await Tokenizer.fromPretrained(dir);
    expect(plain.eos_token_id).toBe(50256); // GPT2Tokenizer's class default
    expect(plain.pad_token_id).toBeNull();
    expect(() => plain.batchEncode(['a', 'a dog'], { padding: true })).toThrow(/withPadToken/);
    const padded = plain.withPadToken(plain.eos_token_id!);
    expect(padded.pad_token_id).toBe(50256);
    expect(plain.pad_token_id).toBeNull();
    expect(padded.batchEncode(['a', 'a dog'], { padding: true }).input_ids).toEqual([[64, 50256], [64, 3290]]);
    expect(padded.withPadToken('<|endoftext|>').pad_token).toBe('<|endoftext|>');
    expect(() => plain.withPadToken('<not a token>')).toThrow(InvalidArgumentError);
  });

  it('round-trips ASCII text exactly (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary-ascii', maxLength: 60 }), (s) => {
        const text = s.replaceAll('<|endoftext|>', '');
        expect(tok.decode(tok.encode(text), { clean_up_tokenization_spaces: false })).toBe(text);
      }),
      { numRuns: 500 },
    );
  });

  it('round-trips any well-formed Unicode text exactly (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 30 }), (text) => {
        expect(tok.decode(tok.encode(text), { clean_up_tokenization_spaces: false })).toBe(text);
      }),
      { numRuns: 300 },
    );
  });

  it('encodes random ASCII and Unicode text exactly like the Rust tokenizers encoder (property)', async () => {
    const rust = RustTokenizer.fromFile(join(tmp.dir, 'saved-gpt2', 'tokenizer.json'));
    const ascii = fc.oneof(
      fc.string({ unit: 'binary-ascii', maxLength: 40 }),
      fc.array(fc.constantFrom('a', ' ', '  ', "'s", "'ll", 'Dog', '12', '\n', '\t', '\r\n', '.', '<|endoftext|>', '!?', '\x0b', '\x1c'), { maxLength: 12 }).map((a) => a.join('')),
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(ascii, fc.string({ unit: 'grapheme', maxLength: 20 })), async (text) => {
        expect(tok.encode(text)).toEqual((await rust.encode(text)).getIds());
      }),
      { numRuns: 600 },
    );
  });
});

describe('Tokenizer loading errors', () => {
  it('names the folder when no tokenizer files are there', async () => {
    await expect(Tokenizer.fromPretrained(join(tmp.dir, 'empty'))).rejects.toThrow(/tokenizer\.json, or vocab\.json and merges\.txt/);
  });

  it('reports a broken tokenizer.json', async () => {
    const dir = join(tmp.dir, 'broken');
    const { mkdir, writeFile } = await import('node:fs/promises');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'tokenizer.json'), '{"model": ');
    await expect(Tokenizer.fromPretrained(dir)).rejects.toThrow(FormatError);
    expect(existsSync(join(dir, 'tokenizer.json'))).toBe(true);
  });
});
