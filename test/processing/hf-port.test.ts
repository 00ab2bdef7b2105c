// The Hugging Face captioning tutorial's tokenizer lines, ported line by line (issue "Porting a Python captioning
// script"): `tokenizer.pad_token = tokenizer.eos_token`, the special-token setters and their validation, save(),
// and `tokenizer(captions, padding="max_length", max_length=..., truncation=True)` as tokenizer.call().
import { mkdir, copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { describeWithFixtures } from '../helpers/fixtures.js';
import { InvalidArgumentError } from '../../lib/errors.js';
import { Tensor } from '../../lib/tensor.js';
import { Tokenizer } from '../../lib/processing/index.js';
import { tempDir } from './helpers.js';

const tmp = tempDir('tc-hfport-');
afterAll(() => tmp.cleanup());

/** A word-level tokenizer.json built in memory (no fixtures needed): ids 0..5, eos but no pad. */
function wordLevel(): Tokenizer {
  const vocab = { '<|endoftext|>': 0, '[UNK]': 1, a: 2, dog: 3, cat: 4, runs: 5 };
  return Tokenizer.fromTokenizerJson(
    {
      version: '1.0',
      added_tokens: [{ id: 0, content: '<|endoftext|>', special: true, lstrip: false, rstrip: false, single_word: false, normalized: false }],
      normalizer: null,
      pre_tokenizer: { type: 'Whitespace' },
      post_processor: null,
      decoder: null,
      model: { type: 'WordLevel', vocab, unk_token: '[UNK]' },
    },
    { eos_token: '<|endoftext|>', unk_token: '[UNK]', model_max_length: 8 },
  );
}

describe('Tokenizer special-token setters (HF attribute assignment)', () => {
  let tok: Tokenizer;
  beforeEach(() => {
    tok = wordLevel();
  });

  it('tokenizer.pad_token = tokenizer.eos_token, then padding works', () => {
    expect(tok.pad_token).toBeNull();
    expect(() => tok.call(['a', 'a dog'], { padding: true })).toThrow(InvalidArgumentError);
    tok.pad_token = tok.eos_token;
    expect(tok.pad_token).toBe('<|endoftext|>');
    expect(tok.pad_token_id).toBe(0);
    expect(tok.call(['a', 'a dog'], { padding: true })).toEqual({ input_ids: [[2, 0], [2, 3]], attention_mask: [[1, 0], [1, 1]] });
  });

  it('assigning an id sets the token and vice versa', () => {
    tok.pad_token_id = 1;
    expect(tok.pad_token).toBe('[UNK]');
    tok.bos_token = 'a';
    expect(tok.bos_token_id).toBe(2);
    tok.bos_token_id = 0;
    expect(tok.bos_token).toBe('<|endoftext|>');
    tok.eos_token_id = 5;
    expect(tok.eos_token).toBe('runs');
    tok.eos_token = 'dog';
    expect(tok.eos_token_id).toBe(3);
    tok.pad_token = null;
    expect(tok.pad_token_id).toBeNull();
  });

  it('rejects tokens and ids outside the vocabulary with InvalidArgumentError, leaving the token as it was', () => {
    expect(() => {
      tok.pad_token = '<pad>';
    }).toThrow(InvalidArgumentError);
    expect(() => {
      tok.pad_token_id = 99;
    }).toThrow(/not in it|no token/);
    expect(() => {
      tok.eos_token_id = -1;
    }).toThrow(InvalidArgumentError);
    expect(() => {
      (tok as unknown as { bos_token: unknown }).bos_token = 3;
    }).toThrow(InvalidArgumentError);
    expect(tok.pad_token).toBeNull();
    expect(tok.eos_token).toBe('<|endoftext|>');
  });

  it('decode(skip_special_tokens) follows a new special token', () => {
    expect(tok.decode([2, 3], { skip_special_tokens: true })).toBe('a dog');
    tok.bos_token = 'a';
    expect(tok.decode([2, 3], { skip_special_tokens: true })).toBe('dog');
  });

  it('persists through save() and fromPretrained()', async () => {
    tok.pad_token = tok.eos_token;
    tok.bos_token_id = 4;
    const dir = join(tmp.dir, 'wl-saved');
    await tok.save(dir);
    const config = JSON.parse(await readFile(join(dir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
    expect(config.pad_token).toBe('<|endoftext|>');
    expect(config.bos_token).toBe('cat');
    const map = JSON.parse(await readFile(join(dir, 'special_tokens_map.json'), 'utf8')) as Record<string, unknown>;
    expect(map.pad_token).toBe('<|endoftext|>');
    const again = await Tokenizer.fromPretrained(dir);
    expect(again.pad_token_id).toBe(0);
    expect(again.bos_token).toBe('cat');
  });

  it('leaves copies made by withPadToken() independent', () => {
    const copy = tok.withPadToken('dog');
    tok.pad_token = 'cat';
    expect(copy.pad_token).toBe('dog');
    expect(tok.pad_token).toBe('cat');
  });
});

describe('tokenizer.call(): HF tokenizer(texts, padding=..., max_length=..., truncation=...)', () => {
  const tok = wordLevel();
  tok.pad_token = tok.eos_token;

  it("padding 'max_length' with truncation, as the tutorial builds labels", () => {
    const out = tok.call(['a dog runs a cat', 'a cat'], { padding: 'max_length', max_length: 3, truncation: true });
    expect(out).toEqual({ input_ids: [[2, 3, 5], [2, 4, 0]], attention_mask: [[1, 1, 1], [1, 1, 0]] });
    // The same as batchEncode (call() is its HF-shaped front).
    expect(out).toEqual(tok.batchEncode(['a dog runs a cat', 'a cat'], { padding: 'max_length', max_length: 3, truncation: true }));
  });

  it("padding 'longest' (and true), model_max_length as the default max_length", () => {
    expect(tok.call(['a', 'a dog runs'], { padding: 'longest' }).input_ids).toEqual([[2, 0, 0], [2, 3, 5]]);
    expect(tok.call(['a'], { padding: 'max_length' }).input_ids[0]!.length).toBe(8); // model_max_length
  });

  it('one string gives flat lists; return_tensors "pt" gives int64 tensors', () => {
    expect(tok.call('a dog')).toEqual({ input_ids: [2, 3], attention_mask: [1, 1] });
    const pt = tok.call(['a', 'a dog'], { padding: true, return_tensors: 'pt' });
    expect(pt.input_ids).toBeInstanceOf(Tensor);
    expect(pt.input_ids.dtype).toBe('int64');
    expect(pt.input_ids.shape).toEqual([2, 2]);
    expect(pt.input_ids.toNested2D()).toEqual([[2, 0], [2, 3]]);
    expect(pt.attention_mask.toNested2D()).toEqual([[1, 0], [1, 1]]);
    expect(tok.call('a dog', { return_tensors: 'pt' }).input_ids.shape).toEqual([1, 2]);
    expect(() => tok.call(['a', 'a dog'], { return_tensors: 'pt' })).toThrow(/padding/);
    expect(() => tok.call(['a'], { return_tensors: 'np' as never })).toThrow(InvalidArgumentError);
  });

  it('stays a Tokenizer instance with its methods (a method, not a callable object)', () => {
    expect(tok).toBeInstanceOf(Tokenizer);
    expect(typeof tok).toBe('object');
    expect(tok.call).toBe(Tokenizer.prototype.call);
  });
});

describeWithFixtures('GPT-2 tokenizer, as the ViT-GPT2 tutorial uses it (models/vit-gpt2-tiny)', (root) => {
  it('pad_token = eos_token, tokenizer(captions, padding="max_length", max_length=8), save', async () => {
    const modelDir = join(root, 'models', 'vit-gpt2-tiny');
    const dir = join(tmp.dir, 'gpt2-no-pad');
    await mkdir(dir, { recursive: true });
    await copyFile(join(modelDir, 'vocab.json'), join(dir, 'vocab.json'));
    await copyFile(join(modelDir, 'merges.txt'), join(dir, 'merges.txt'));
    await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ model_max_length: 1024, tokenizer_class: 'GPT2Tokenizer' }));
    const tokenizer = await Tokenizer.fromPretrained(dir);
    expect(tokenizer.pad_token).toBeNull();
    // Python: tokenizer.pad_token = tokenizer.eos_token
    tokenizer.pad_token = tokenizer.eos_token;
    expect(tokenizer.pad_token_id).toBe(50256);
    // Python: labels = tokenizer(captions, padding="max_length", max_length=8, truncation=True).input_ids
    const labels = tokenizer.call(['a dog', 'a cat on a red mat with a hat on'], { padding: 'max_length', max_length: 8, truncation: true }).input_ids;
    expect(labels).toEqual([[64, 3290, 50256, 50256, 50256, 50256, 50256, 50256], tokenizer.encode('a cat on a red mat with a hat on').slice(0, 8)]);
    const saved = join(tmp.dir, 'gpt2-saved');
    await tokenizer.save(saved);
    expect((await Tokenizer.fromPretrained(saved)).pad_token_id).toBe(50256);
  });
});
