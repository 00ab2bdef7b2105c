// Word-level tokenizer.json files (as the demo saves them) load in Tokenizer and encode exactly as the
// Rust `tokenizers` library does.
import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer } from '../../lib/processing/index.js';
import { WordLevelTokenizer } from '../../lib/train/demo-tokenizer.js';
import { datasets } from '../../lib/data/index.js';

describe('Tokenizer with a WordLevel model', () => {
  it('matches tokenizers (Rust) and the demo builder on synthetic captions', async () => {
    const items = [];
    for await (const item of datasets.synthetic({ size: 300, seed: 5, imageSize: 16 })) items.push(item);
    const texts = items.flatMap((i) => i.captions);
    const built = WordLevelTokenizer.build(texts.slice(0, 200));
    const dir = mkdtempSync(join(tmpdir(), 'tc-wl-'));
    await built.save(dir);
    const tok = await Tokenizer.fromPretrained(dir);
    const rust = built.toRust();
    for (const text of [...texts, 'A NEW word never seen, here.', '<|endoftext|> a red circle']) {
      const ids = tok.encode(text);
      expect(ids, text).toEqual((await rust.encode(text)).getIds());
      expect(ids, text).toEqual(built.encode(text));
    }
    const ids = tok.encode('a small red circle above a large blue square');
    expect(tok.decode(ids)).toBe('a small red circle above a large blue square');
    expect(tok.decode([tok.eos_token_id!, ...ids], { skip_special_tokens: true })).toBe('a small red circle above a large blue square');
    expect(tok.eos_token_id).toBe(built.eos_token_id);
    expect(tok.vocab_size).toBe(built.vocab_size);
  });
});
