import { expect, it } from 'vitest';
import { join } from 'node:path';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describeWithFixtures } from '../helpers/fixtures.js';
import { pipeline } from '../../lib/pipeline.js';
import { VisionEncoderDecoder } from '../../lib/models/vision-encoder-decoder.js';
import { ImageProcessor, Tokenizer } from '../../lib/processing/index.js';

describeWithFixtures('pipeline image-to-text', (fixtures) => {
  const dir = join(fixtures, 'models', 'vit-gpt2-tiny');
  it('captions a path, a Buffer and an array, the same as generate + decode', async () => {
    const captioner = await pipeline('image-to-text', dir);
    const img = join(fixtures, 'images', 'flower.jpg');
    const [a] = await captioner(img);
    const [b] = await captioner(readFileSync(img));
    expect(b).toEqual(a);
    const many = await captioner([img, join(fixtures, 'images', 'china.jpg')], { num_beams: 3 });
    expect(many).toHaveLength(2);
    // the same result by hand
    const model = await VisionEncoderDecoder.fromPretrained(dir);
    const proc = await ImageProcessor.fromPretrained(dir);
    const tok = await Tokenizer.fromPretrained(dir);
    const { sequences } = await model.generate(await proc.preprocess(img));
    expect(a!.generated_text).toBe(tok.decode(sequences[0]!, { skip_special_tokens: true }).trim());
  });

  it('accepts a loaded model with explicit processor and tokenizer', async () => {
    const model = await VisionEncoderDecoder.fromPretrained(dir);
    await expect(pipeline('image-to-text', model)).rejects.toThrow(/image processor and a tokenizer/);
    const captioner = await pipeline('image-to-text', model, { imageProcessor: await ImageProcessor.fromPretrained(dir), tokenizer: await Tokenizer.fromPretrained(dir) });
    expect((await captioner(join(fixtures, 'images', 'gray.jpg')))[0]!.generated_text.length).toBeGreaterThan(0);
  });

  it('gives one caption per image of a list when only generation_config.json asks for several sequences', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'tc-pipeline-'));
    try {
      for (const f of readdirSync(dir)) copyFileSync(join(dir, f), join(tmp, f));
      writeFileSync(join(tmp, 'generation_config.json'), JSON.stringify({ num_beams: 2, num_return_sequences: 2, max_length: 8 }));
      const captioner = await pipeline('image-to-text', tmp);
      expect(captioner.model.generationConfig.num_return_sequences).toBe(2);
      const images = ['flower.jpg', 'china.jpg', 'gray.jpg'].map((f) => join(fixtures, 'images', f));
      const out = await captioner(images, { batch_size: 2 });
      expect(out).toHaveLength(3);
      // each image's caption is its best beam, as generate (with the folder's generation config) gives it
      const { sequences } = await captioner.model.generate(await captioner.imageProcessor.preprocess(images));
      expect(sequences).toHaveLength(6);
      expect(out.map((o) => o.generated_text)).toEqual([0, 2, 4].map((i) => captioner.tokenizer.decode(sequences[i]!, { skip_special_tokens: true }).trim()));
      // explicit options still win over the folder's
      expect(await captioner(images, { num_return_sequences: 1 })).toHaveLength(3);
      // a single image gives every returned sequence, as HF's pipeline does
      expect((await captioner(images[1]!)).map((o) => o.generated_text)).toEqual([2, 3].map((i) => captioner.tokenizer.decode(sequences[i]!, { skip_special_tokens: true }).trim()));
      // a list nests only when the call itself asks for several sequences
      expect((await captioner(images, { num_return_sequences: 2 })).map((l) => l.length)).toEqual([2, 2, 2]);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
