import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer as RustTokenizer } from 'tokenizers';
import { describe, expect, it } from 'vitest';
import { loadTokenizer, WordLevelTokenizer } from '../../lib/train/demo-tokenizer.js';
import { Tokenizer } from '../../lib/processing/index.js';
import { shapesTokenizer, tempDir } from './helpers.js';

describe('word-level tokenizer', () => {
  const tok = shapesTokenizer();

  it('puts <|endoftext|> and [UNK] first and covers the shapes vocabulary', () => {
    expect(tok.eos_token_id).toBe(0);
    expect(tok.bos_token_id).toBe(0);
    expect(tok.pad_token_id).toBe(0);
    expect(tok.unk_token_id).toBe(1);
    expect(tok.vocab_size).toBeLessThan(64);
    for (const w of ['a', 'small', 'large', 'red', 'circle', 'left', 'above', ':', ',']) expect(tok.tokenToId(w)).not.toBeNull();
  });

  it('encodes synchronously exactly as the tokenizers (Rust) WordLevel + Whitespace pipeline', async () => {
    const rust = tok.toRust();
    const texts = ['three shapes: a small red circle, a large blue square and a small green diamond', 'A Purple TRIANGLE above a zebra!!', 'x<|endoftext|>y [UNK] café_2'];
    for (const t of texts) {
      const enc = await rust.encode(t);
      expect(tok.encode(t)).toEqual(enc.getIds());
    }
  });

  it('decodes with special tokens skipped and HF clean-up', async () => {
    const ids = [0, ...tok.encode('two shapes: a small red circle, a large blue square'), 0];
    expect(tok.decode(ids, { skip_special_tokens: true })).toBe('two shapes : a small red circle, a large blue square');
    expect(tok.decode(ids)).toMatch(/^<\|endoftext\|> two/);
    expect(await tok.toRust().decode(ids, true)).toBe('two shapes : a small red circle , a large blue square');
  });

  it('saves a tokenizer.json that loads back (here and in the tokenizers package)', async () => {
    const { dir, cleanup } = tempDir();
    try {
      await tok.save(dir);
      const json = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
      expect(json.model.type).toBe('WordLevel');
      expect(JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'))).toMatchObject({ eos_token: '<|endoftext|>', pad_token: '<|endoftext|>', unk_token: '[UNK]' });
      const back = await loadTokenizer(dir);
      expect(back).toBeInstanceOf(Tokenizer);
      expect(back.encode('a large red square')).toEqual(tok.encode('a large red square'));
      const rust = RustTokenizer.fromFile(join(dir, 'tokenizer.json'));
      expect((await rust.encode('a large red square')).getIds()).toEqual(tok.encode('a large red square'));
    } finally {
      cleanup();
    }
  });

  it('builds deterministic ids (frequency, then alphabetical)', () => {
    const t = WordLevelTokenizer.build(['b a', 'a c', 'a']);
    expect(t.vocab).toEqual({ '<|endoftext|>': 0, '[UNK]': 1, a: 2, b: 3, c: 4 });
    expect(t.encode('a d')).toEqual([2, 1]);
  });
});
