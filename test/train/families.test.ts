// A tiny Trainer fit per decoder family (BERT, RoBERTa, GPT-2), with each fixture folder's own tokenizer and
// image processor and a fresh model of the fixture's config: the loss falls, and for configs that lack the
// special ids the Trainer takes them from the tokenizer as the captioning tutorials set them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { datasets } from '../../lib/data/index.js';
import { VisionEncoderDecoder } from '../../lib/models/vision-encoder-decoder.js';
import { buildLabels, ImageProcessor, Tokenizer } from '../../lib/processing/index.js';
import { Trainer } from '../../lib/train/trainer.js';
import { describeWithFixtures } from '../helpers/fixtures.js';
import { lineSink, lossRecorder, outDirs } from './helpers.js';

const outDir = outDirs();

interface Family {
  fixture: string;
  decoder: string;
  /** What the Trainer fills in (decoder_start, eos, pad) when the config has none. */
  ids: [number, number, number];
}

const FAMILIES: Family[] = [
  { fixture: 'deit-bert-tiny', decoder: 'bert', ids: [101, 102, 0] }, // [CLS], [SEP], [PAD]
  { fixture: 'clip-roberta-tiny', decoder: 'roberta', ids: [0, 2, 1] }, // <s>, </s>, <pad>
  { fixture: 'beit-gpt2-tiny', decoder: 'gpt2', ids: [50256, 50256, 50256] }, // <|endoftext|>
];

describeWithFixtures('Trainer on each decoder family', (fixtures) => {
  for (const f of FAMILIES) {
    it(`${f.decoder} (${f.fixture}): fresh model, fixture tokenizer; ids filled from the tokenizer; the loss falls`, async () => {
      const dir = join(fixtures, 'models', f.fixture);
      const raw = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown> & { decoder: Record<string, unknown> };
      // A config as a user composes it before training: no generation ids at the top level, nor in the decoder.
      for (const k of ['decoder_start_token_id', 'pad_token_id', 'eos_token_id', 'bos_token_id']) delete raw[k];
      raw.decoder = { ...raw.decoder, eos_token_id: null, bos_token_id: null };
      const model = await VisionEncoderDecoder.fromConfig(raw, { seed: 0 });
      expect([model.config.decoder_start_token_id, model.config.eos_token_id, model.config.pad_token_id]).toEqual([null, null, null]);
      const tokenizer = await Tokenizer.fromPretrained(dir);
      const image_processor = await ImageProcessor.fromPretrained(dir);
      // The labels the loader builds follow the decoder's convention: caption ids + the end token, no start token.
      const { labels } = buildLabels(['a red circle'], tokenizer);
      const row = labels.toArray();
      expect(row[row.length - 1]).toBe(f.ids[1]);
      expect(row).toEqual([...tokenizer.encode('a red circle').filter((id) => id !== f.ids[0] && id !== f.ids[1]), f.ids[1]]);
      const train = datasets.synthetic({ size: 32, seed: 1, imageSize: 32, maxShapes: 1 });
      const sink = lineSink();
      const rec = lossRecorder();
      const trainer = new Trainer({
        model, tokenizer, image_processor, train_dataset: train, log: sink.log, callbacks: [rec.cb],
        args: { output_dir: outDir(), max_steps: 20, per_device_train_batch_size: 8, learning_rate: 1e-2, lr_scheduler_type: 'constant', save_strategy: 'no', logging_steps: 5, disable_tqdm: true },
      });
      expect([model.config.decoder_start_token_id, model.config.eos_token_id, model.config.pad_token_id]).toEqual(f.ids);
      expect(model.generationConfig).toMatchObject({ decoder_start_token_id: f.ids[0], eos_token_id: f.ids[1], pad_token_id: f.ids[2] });
      const out = await trainer.fit();
      expect(out.global_step).toBe(20);
      expect(sink.lines.some((l) => l.includes('set from the tokenizer') && l.includes(`decoder_start_token_id = ${f.ids[0]}`))).toBe(true);
      expect(rec.losses).toHaveLength(20);
      expect(rec.losses.every(Number.isFinite)).toBe(true);
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      expect(mean(rec.losses.slice(-3))).toBeLessThan(0.5 * mean(rec.losses.slice(0, 3)));
      // The native model builds decoder inputs and generates from the filled ids.
      const item = train.item(0);
      const { sequences } = await model.generate(await image_processor.preprocess(item.image as never), { max_length: 12 });
      expect(sequences[0]![0]).toBe(f.ids[0]);
      const text = tokenizer.decode(sequences[0]!, { skip_special_tokens: true }).trim();
      expect(text).not.toMatch(/\[CLS\]|\[SEP\]|<s>|<\/s>|<\|endoftext\|>/);
    });
  }

  it('bert: a config whose ids disagree with the tokenizer is refused with the fix', async () => {
    const dir = join(fixtures, 'models', 'deit-bert-tiny');
    const raw = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    const model = await VisionEncoderDecoder.fromConfig({ ...raw, eos_token_id: 0 });
    const tokenizer = await Tokenizer.fromPretrained(dir);
    const image_processor = await ImageProcessor.fromPretrained(dir);
    expect(() => new Trainer({ model, tokenizer, image_processor, train_dataset: datasets.synthetic({ size: 4, imageSize: 32 }), args: { output_dir: outDir(), max_steps: 1 } }))
      .toThrow(/eos_token_id is 0 but the tokenizer's eos token id is 102/);
  });
});
