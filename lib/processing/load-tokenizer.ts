/** loadTokenizer: the tokenizer of a model folder, whatever kind the library writes. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError } from '../errors.js';
import type { CaptionTokenizer } from '../types.js';
import { Tokenizer } from './tokenizer.js';

/**
 * Load the tokenizer of a model folder with lib/processing's Tokenizer: GPT-2 / RoBERTa byte-level BPE, BERT
 * WordPiece, or word level (as the demo saves), all run by the `tokenizers` library.
 */
export async function loadTokenizer(dir: string): Promise<CaptionTokenizer> {
  if (!['tokenizer.json', 'vocab.json', 'vocab.txt'].some((f) => existsSync(join(dir, f)))) {
    throw new InvalidArgumentError(`Expected a tokenizer (tokenizer.json, vocab.json + merges.txt, or vocab.txt) in ${dir} but found none`);
  }
  return Tokenizer.fromPretrained(dir);
}
