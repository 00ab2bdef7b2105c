// What a user porting a transformers captioning script writes: config ids set by assignment, one forward
// that also runs backward, and a saved folder the pipeline can use.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../lib/errors.js';
import { tinyConfig } from '../../lib/models/config.js';
import { VisionEncoderDecoder } from '../../lib/models/vision-encoder-decoder.js';
import { pipeline } from '../../lib/pipeline.js';
import { ImageProcessor, Tokenizer } from '../../lib/processing/index.js';
import { Tensor } from '../../lib/tensor.js';
import { describeWithFixtures } from '../helpers/fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'tc-port-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const pixels = Tensor.from(new Float32Array(2 * 3 * 32 * 32).map((_, i) => Math.sin(i / 7)), [2, 3, 32, 32]) as Tensor<'float32'>;
const labels = Tensor.int64([[5, 6, 7, 99], [8, 9, 99, -100]]);

describe('model.config assignments take effect', () => {
  it('decoder_start_token_id set on model.config changes the next forward exactly as building with it', async () => {
    const cfg = tinyConfig({ vocabSize: 100 });
    const assigned = await VisionEncoderDecoder.fromConfig(cfg, { seed: 3 });
    const before = (await assigned.forward({ pixel_values: pixels, labels })).loss!;
    assigned.config.decoder_start_token_id = 42; // the tutorial's `model.config.decoder_start_token_id = ...`
    const after = (await assigned.forward({ pixel_values: pixels, labels })).loss!;
    const built = await VisionEncoderDecoder.fromConfig({ ...cfg, decoder_start_token_id: 42 }, { seed: 3 });
    const reference = (await built.forward({ pixel_values: pixels, labels })).loss!;
    expect(after).not.toBe(before);
    expect(after).toBe(reference);
    // pad_token_id fills the decoder inputs where labels are -100: a change shows in row 2.
    assigned.config.pad_token_id = 11;
    const padded = (await assigned.forward({ pixel_values: pixels, labels })).loss!;
    const builtPad = await VisionEncoderDecoder.fromConfig({ ...cfg, decoder_start_token_id: 42, pad_token_id: 11 }, { seed: 3 });
    expect(padded).toBe((await builtPad.forward({ pixel_values: pixels, labels })).loss!);
  });

  it('a missing or out-of-range id is the package\'s typed error, naming the field and the fix', async () => {
    const m = await VisionEncoderDecoder.fromConfig(tinyConfig({ vocabSize: 100 }), { seed: 1 });
    m.config.decoder_start_token_id = null;
    await expect(m.forward({ pixel_values: pixels, labels })).rejects.toThrow(InvalidArgumentError);
    await expect(m.forward({ pixel_values: pixels, labels })).rejects.toThrow(/decoder_start_token_id is not set.*set model\.config\.decoder_start_token_id/);
    m.config.decoder_start_token_id = 1000;
    await expect(m.forward({ pixel_values: pixels, labels })).rejects.toThrow(/Expected a token id in \[0, 100\) or null for model\.config\.decoder_start_token_id/);
    m.config.decoder_start_token_id = 99;
    expect((await m.forward({ pixel_values: pixels, labels })).loss).toBeGreaterThan(0);
  });
});

describe('forward with backward: true', () => {
  it('returns the loss and logits of the one pass whose gradients it accumulates', async () => {
    const a = await VisionEncoderDecoder.fromConfig(tinyConfig({ vocabSize: 100 }), { seed: 5 });
    const b = await VisionEncoderDecoder.fromConfig(tinyConfig({ vocabSize: 100 }), { seed: 5 });
    const ref = await a.forward({ pixel_values: pixels, labels });
    await a.backward({ pixel_values: pixels, labels });
    const both = await b.forward({ pixel_values: pixels, labels }, { backward: true });
    expect(both.loss).toBe(ref.loss);
    expect(Array.from(both.logits.data)).toEqual(Array.from(ref.logits.data));
    expect(both.encoder_last_hidden_state.shape).toEqual(ref.encoder_last_hidden_state.shape);
    const ga = await a.gradients();
    const gb = await b.gradients();
    expect(Object.keys(gb).sort()).toEqual(Object.keys(ga).sort());
    for (const k of Object.keys(ga)) expect(Array.from(gb[k]!.data as Float32Array)).toEqual(Array.from(ga[k]!.data as Float32Array));
    await expect(b.forward({ pixel_values: pixels }, { backward: true })).rejects.toThrow(InvalidArgumentError);
  });
});

describeWithFixtures('save writes a folder the pipeline can use', (fixtures) => {
  it('model.save(dir, { tokenizer, image_processor }) for a model that has neither attached', async () => {
    const src = join(fixtures, 'models', 'vit-gpt2-tiny');
    const model = await VisionEncoderDecoder.fromPretrained(src);
    const tokenizer = await Tokenizer.fromPretrained(src);
    const image_processor = await ImageProcessor.fromPretrained(src);
    const out = join(tmp, 'saved');
    await model.save(out, { tokenizer, image_processor });
    const image = join(fixtures, 'images', 'china.jpg');
    const original = await (await pipeline('image-to-text', src))(image);
    const reloaded = await (await pipeline('image-to-text', out))(image);
    expect(reloaded).toEqual(original);
  });
});
