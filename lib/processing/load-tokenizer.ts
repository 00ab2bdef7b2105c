/** loadTokenizer: the tokenizer of a model folder, whatever kind the library writes. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError } from '../errors.js';
import type { CaptionTokenizer } from '../types.js';
import { Tokenizer } from './tokenizer.js';

/**
 * Load the tokenizer of a model folder with lib/processing's Tokenizer: byte-level BPE (GPT-2) or word level
 * (as the demo saves), normalizer and pre-tokenizer run by the `tokenizers` library.
 */
export async function loadTokenizer(dir: string): Promise<CaptionTokenizer> {
  if (!existsSync(join(dir, 'tokenizer.json')) && !existsSync(join(dir, 'vocab.json'))) {
    throw new InvalidArgumentError(`Expected a tokenizer (tokenizer.json, or vocab.json + merges.txt) in ${dir} but found none`);
  }
  return Tokenizer.fromPretrained(dir);
}
