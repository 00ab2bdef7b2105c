import { expect, it } from 'vitest';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
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
});
