// What a user porting the Hugging Face image-captioning tutorial does with datasets, line by line:
// load the Karpathy splits by their HF names, filter, set a per-item transform, batch, and ask for the length.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasets, type DataItem } from '../../lib/data/index.js';
import { InvalidArgumentError } from '../../lib/errors.js';
import type { Tokenizer } from '../../lib/processing/index.js';
import { datasetFromSpec } from '../../lib/train/specs.js';
import { collect, realProcessor, realTokenizer, solidImage, tempDir } from './helpers.js';

let dir: string;
let cleanup: () => void;
let tok: Tokenizer;
let file: string;

beforeAll(async () => {
  ({ dir, cleanup } = tempDir('tc-hfport-'));
  tok = await realTokenizer();
  const img = await solidImage(8, 8, [200, 30, 30]);
  const images = [];
  for (let i = 0; i < 12; i++) {
    const split = i < 8 ? 'train' : i < 10 ? 'val' : 'test';
    writeFileSync(path.join(dir, `${i}.png`), img);
    // image 3 has one short caption only, as the tutorial's filter drops
    const sentences = i === 3 ? [{ raw: 'Red.' }] : [{ raw: `A red square number ${i}.` }, { raw: `A square ${i}.` }];
    images.push({ filename: `${i}.png`, imgid: i, split, sentences });
  }
  file = path.join(dir, 'dataset_flickr8k.json');
  writeFileSync(file, JSON.stringify({ dataset: 'flickr8k', images }));
});
afterAll(() => cleanup());

describe('porting a Python captioning script: datasets', () => {
  it("takes HF's split names: load_dataset(..., split='validation')", async () => {
    const val = datasets.karpathy({ json: file, images: dir, split: 'validation' });
    expect((await val.toArray()).map((x) => x.id)).toEqual(['8', '9']);
    expect(await val.size()).toBe(2);
    const same = datasets.karpathy({ json: file, images: dir, split: 'val' });
    expect(await same.toArray()).toEqual(await val.toArray());
    expect(() => datasets.karpathy({ json: file, images: dir, split: 'valid' as 'val' })).toThrow(/'validation'/);
    // and in a dataset spec (train.json / eval --data)
    const spec = datasetFromSpec({ type: 'karpathy', json: 'dataset_flickr8k.json', images: '.', split: 'validation' }, dir);
    expect((await spec.toArray()).map((x) => x.id)).toEqual(['8', '9']);
  });

  it('ds = ds.filter(lambda x: len(x["captions"]) > 1): len(ds) and ds[i] still work', async () => {
    const train = datasets.karpathy({ json: file, images: dir, split: 'train' });
    const kept = train.filter((x) => x.captions.length > 1);
    expect(await kept.hasRandomAccess()).toBe(true);
    expect(await kept.size()).toBe(7);
    expect((await kept.get(3)).id).toBe('4');
    // the loader knows how many batches an epoch has (what the Trainer needs to go without max_steps)
    const loader = kept.batches({ batch_size: 2, max_length: 12, imageProcessor: realProcessor(8), tokenizer: tok, log: () => {} });
    expect(await loader.numBatches()).toBe(4);
    const batches = await collect(loader);
    expect(batches.flatMap((b) => b.ids)).toEqual(['0', '1', '2', '4', '5', '6', '7']);
  });

  it('ds.with_transform(fn) applies fn lazily, when items are read, on random access too', async () => {
    const train = datasets.karpathy({ json: file, images: dir, split: 'train' });
    const seen: string[] = [];
    const upper = train.with_transform((x: DataItem) => {
      seen.push(x.id);
      return { ...x, captions: x.captions.map((c) => c.toUpperCase()) };
    });
    expect(seen).toEqual([]); // nothing computed ahead
    expect(await upper.size()).toBe(8);
    expect(seen).toEqual([]);
    expect((await upper.get(5)).captions[0]).toBe('A RED SQUARE NUMBER 5.');
    expect(seen).toEqual(['5']);
    expect((await upper.get(5)).captions[0]).toBe('A RED SQUARE NUMBER 5.');
    expect(seen).toEqual(['5', '5']); // applied at every read, not cached
    expect((await upper.take(2).toArray()).map((x) => x.captions[1])).toEqual(['A SQUARE 0.', 'A SQUARE 1.']);
    expect(await upper.hasRandomAccess()).toBe(true);
    // the loader reads through the transform
    const loader = upper.batches({ batch_size: 8, max_length: 12, imageProcessor: realProcessor(8), tokenizer: tok, captionSampling: 'first', log: () => {} });
    const [batch] = await collect(loader);
    expect(batch!.texts[0]).toBe('A RED SQUARE NUMBER 0.');
    // async transforms, and the source dataset is left alone
    const asyncT = train.with_transform(async (x) => ({ ...x, id: `t${x.id}` }));
    expect((await asyncT.get(0)).id).toBe('t0');
    expect((await train.get(0)).id).toBe('0');
    expect(() => train.with_transform(3 as never)).toThrow(InvalidArgumentError);
  });

  it('ds.set_transform(fn) sets it in place; set_transform(null) removes it', async () => {
    const ds = datasets.karpathy({ json: file, images: dir, split: 'test' });
    expect(ds.set_transform((x) => ({ ...x, captions: [x.captions[0]!.toLowerCase()] }))).toBe(ds);
    expect((await ds.get(0)).captions).toEqual(['a red square number 10.']);
    expect((await ds.toArray()).map((x) => x.captions.length)).toEqual([1, 1]);
    // datasets derived afterwards read the transformed items
    expect((await ds.shuffle({ seed: 1 }).toArray()).every((x) => x.captions.length === 1)).toBe(true);
    // with_transform replaces it (as in HF)
    expect((await ds.with_transform((x) => x).get(0)).captions).toHaveLength(2);
    ds.set_transform(null);
    expect((await ds.get(0)).captions).toHaveLength(2);
    expect(() => ds.set_transform('x' as never)).toThrow(InvalidArgumentError);
  });
});
