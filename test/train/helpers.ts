/** Tiny models, datasets and temp folders for the Trainer tests (seconds per test on 2 cores). */
import { mkdtempSync, rmSync } from 'node:fs';
import { afterEach } from 'vitest';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { datasets } from '../../lib/data/index.js';
import { composeConfig } from '../../lib/models/config.js';
import { VisionEncoderDecoder } from '../../lib/models/vision-encoder-decoder.js';
import { ImageProcessor } from '../../lib/processing/image-processor.js';
import { WordLevelTokenizer } from '../../lib/train/demo-tokenizer.js';
import { RawImageSupport } from '../../lib/train/raw-images.js';
import type { TrainerCallback } from '../../lib/train/callbacks.js';

export function tempDir(prefix = 'tc-train-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface TinyOptions {
  imageSize?: number;
  trainSize?: number;
  evalSize?: number;
  hidden?: number;
  layers?: number;
  seed?: number;
  maxShapes?: 1 | 2 | 3;
  dropout?: number;
}

/** The word-level tokenizer of the synthetic captions (built from many items' captions: no rendering). */
export function shapesTokenizer(): WordLevelTokenizer {
  const ds = datasets.synthetic({ size: 2000, seed: 12345 });
  const texts: string[] = [];
  for (let i = 0; i < 2000; i++) texts.push(...ds.item(i).captions);
  return WordLevelTokenizer.build(texts);
}

export async function tinySetup(o: TinyOptions = {}) {
  const imageSize = o.imageSize ?? 16;
  const hidden = o.hidden ?? 32;
  const layers = o.layers ?? 1;
  const maxShapes = o.maxShapes ?? 1;
  const train = datasets.synthetic({ size: o.trainSize ?? 48, seed: 1, imageSize, maxShapes });
  const evalSet = datasets.synthetic({ size: o.evalSize ?? 8, seed: 2, imageSize, maxShapes });
  const tokenizer = shapesTokenizer();
  const image_processor = new RawImageSupport(ImageProcessor.fromConfig({ size: { height: imageSize, width: imageSize }, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5] }));
  const eos = tokenizer.eos_token_id;
  const p = o.dropout ?? 0;
  const config = composeConfig(
    { model_type: 'vit', image_size: imageSize, patch_size: 8, hidden_size: hidden, num_hidden_layers: layers, num_attention_heads: 2, intermediate_size: hidden * 2, hidden_dropout_prob: p },
    { model_type: 'gpt2', vocab_size: tokenizer.vocab_size, n_positions: 32, n_embd: hidden, n_layer: layers, n_head: 2, resid_pdrop: p, embd_pdrop: p, attn_pdrop: p, bos_token_id: eos, eos_token_id: eos, pad_token_id: eos },
  );
  const model = await VisionEncoderDecoder.fromConfig(config, { seed: o.seed ?? 0 });
  return { model, tokenizer, image_processor, train, evalSet, config };
}

/** Collects log lines instead of printing them. */
export function lineSink(): { lines: string[]; log: (l: string) => void } {
  const lines: string[] = [];
  return { lines, log: (l: string) => void lines.push(l) };
}

/** A temp output folder per call, removed after the current test (registers an afterEach in the calling file). */
export function outDirs(): () => string {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    while (cleanups.length) cleanups.pop()!();
  });
  return () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    return t.dir;
  };
}

/** Records the loss of every optimizer step. */
export function lossRecorder(): { losses: number[]; cb: TrainerCallback } {
  const losses: number[] = [];
  return { losses, cb: { on_step_end: (_a, _s, _c, extras) => void losses.push(extras.loss!) } };
}
