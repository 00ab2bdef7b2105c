import { writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Dataset, DataQualityError, datasets, isRawImage, type Batch, type BatchesOptions, type DataItem, type EpochReport,
  type ItemImage, type LoaderState,
} from '../../lib/data/index.js';
import { InvalidArgumentError } from '../../lib/errors.js';
import { Tensor } from '../../lib/tensor.js';
import type { Tokenizer } from '../../lib/processing/index.js';
import {
  collect, CountingProcessor, hugeHeaderPng, realProcessor, realTokenizer, rows, solidImage, tempDir, TestProcessor,
} from './helpers.js';

let dir: string;
let cleanup: () => void;
let tok: Tokenizer;
beforeAll(async () => {
  ({ dir, cleanup } = tempDir());
  tok = await realTokenizer();
});
afterAll(() => cleanup());

/** Loader options with the real ImageProcessor (8x8) and Tokenizer. */
function opts(extra: Partial<BatchesOptions> = {}): BatchesOptions {
  return {
    batch_size: 4, max_length: 16, imageProcessor: realProcessor(8), tokenizer: tok,
    concurrency: 2, prefetch: 2, log: () => {}, ...extra,
  };
}

/** What identifies a batch's content. */
function key(b: Batch): unknown {
  return { ids: b.ids, texts: b.texts, labels: rows(b.labels), px: Array.from(b.pixel_values.data.subarray(0, 5)), shape: b.pixel_values.shape };
}

function checkLabels(b: Batch, tok: Tokenizer, maxLength: number, pad: number): void {
  expect(b.labels.dtype).toBe('int64');
  expect(b.labels.shape[0]).toBe(b.ids.length);
  expect(b.labels.shape[1]).toBeLessThanOrEqual(maxLength);
  rows(b.labels).forEach((row, r) => {
    const ids = tok.encode(b.texts[r]!).slice(0, maxLength - 1);
    expect(row.slice(0, ids.length)).toEqual(ids);
    expect(row[ids.length]).toBe(tok.eos_token_id);
    for (const v of row.slice(ids.length + 1)) expect(v).toBe(pad);
  });
}

describe('Dataset.batches', () => {
  it('yields {pixel_values, labels, ids, captions} ready for the model, raw pixels passed straight through', async () => {
    const proc = new TestProcessor(8); // takes raw images
    const ds = datasets.synthetic({ size: 10, seed: 1, imageSize: 32 });
    const loader = ds.batches(opts({ imageProcessor: proc, captionSampling: 'first' }));
    expect(await loader.numBatches()).toBe(3);
    const batches = await collect(loader);
    expect(batches.map((b) => b.ids.length)).toEqual([4, 4, 2]);
    const b = batches[0]!;
    expect(b.pixel_values).toBeInstanceOf(Tensor);
    expect(b.pixel_values.dtype).toBe('float32');
    expect(b.pixel_values.shape).toEqual([4, 3, 8, 8]);
    expect(b.ids).toEqual(['shapes-1-0', 'shapes-1-1', 'shapes-1-2', 'shapes-1-3']);
    expect(b.captions[0]).toEqual(ds.item(0).captions);
    expect(b.texts).toEqual([0, 1, 2, 3].map((i) => ds.item(i).captions[0]));
    for (const x of batches) checkLabels(x, tok, 16, -100);
    expect(tok.eos_token_id).toBe(256);
    expect(proc.inputs.every((x) => isRawImage(x))).toBe(true);
    expect(proc.calls).toBe(10);
    // pixels are the processor's output for that image, in order
    const single = await new TestProcessor(8).preprocess(ds.item(5).image);
    expect(batches[1]!.pixel_values.slice0(1, 2).toArray()).toEqual(single.toArray());
    expect(loader.stats).toMatchObject({ seen: 0, yielded: 0 }); // reset for the next epoch
    expect(loader.epoch).toBe(1);
  });

  it('feeds synthetic raw images to the real ImageProcessor (as is, or losslessly encoded if it refuses raw input)', async () => {
    const ds = datasets.synthetic({ size: 6, seed: 3, imageSize: 32 });
    const proc = realProcessor(16);
    const batches = await collect(ds.batches(opts({ imageProcessor: proc, batch_size: 6, captionSampling: 'first' })));
    expect(batches[0]!.pixel_values.shape).toEqual([6, 3, 16, 16]);
    const png = await sharp(ds.item(4).image.data, { raw: { width: 32, height: 32, channels: 3 } }).png().toBuffer();
    expect(batches[0]!.pixel_values.slice0(4, 5).toArray()).toEqual((await proc.preprocess(png)).toArray());
  });

  it("pads with eos when padLabel is 'eos', caps at max_length, drops the last partial batch with drop_last", async () => {
    const ds = datasets.fromItems([
      { id: 'a', image: await solidImage(5, 5, [1, 2, 3]), captions: ['one two three four five six seven eight nine ten'] },
      { id: 'b', image: await solidImage(5, 5, [1, 2, 3]), captions: ['short'] },
      { id: 'c', image: await solidImage(5, 5, [1, 2, 3]), captions: ['left over'] },
    ]);
    let report: EpochReport | undefined;
    const loader = ds.batches(opts({ batch_size: 2, max_length: 6, padLabel: 'eos', drop_last: true, onEpochEnd: (r) => { report = r; } }));
    expect(await loader.numBatches()).toBe(1);
    const [b, ...rest] = await collect(loader);
    expect(rest).toEqual([]);
    checkLabels(b!, tok, 6, tok.eos_token_id!);
    expect(rows(b!.labels)[0]).toHaveLength(6);
    expect(report).toMatchObject({ epoch: 0, batches: 1, stats: { seen: 3, yielded: 2, dropped: 1, skipped: {} } });
  });

  it('keeps the last finished epoch\'s counts in lastEpochStats while stats resets', async () => {
    const img = await solidImage(5, 5, [9, 8, 7]);
    const ds = datasets.fromItems([
      ...['a', 'b', 'c'].map((id) => ({ id, image: img, captions: [`item ${id}`] })),
      { id: 'gone', image: path.join(dir, 'no-such-image.png'), captions: ['never read'] },
      ...['d', 'e'].map((id) => ({ id, image: img, captions: [`item ${id}`] })),
    ]);
    const reports: EpochReport[] = [];
    const loader = ds.batches(opts({ batch_size: 2, drop_last: true, maxSkipRatio: 0.5, onEpochEnd: (r) => { reports.push(r); } }));
    expect(loader.lastEpochStats).toBeNull();
    let batches = 0;
    for await (const b of loader) {
      batches++;
      expect(b.ids).toHaveLength(2);
      expect(loader.lastEpochStats).toBeNull(); // the epoch has not ended yet
    }
    expect(batches).toBe(2);
    const want = { seen: 6, yielded: 4, skipped: { missing_file: 1 }, normalized: {}, dropped: 1 };
    expect(loader.lastEpochStats).toMatchObject(want);
    expect(loader.lastEpochStats!.examples.missing_file![0]).toContain('no-such-image.png');
    expect(loader.lastEpochStats).toEqual(reports[0]!.stats);
    expect(reports[0]!.batches).toBe(batches);
    expect(loader.stats).toEqual({ seen: 0, yielded: 0, skipped: {}, normalized: {}, dropped: 0, examples: {} }); // reset as before
    // a copy: changing it changes nothing inside the loader
    loader.lastEpochStats!.seen = 99;
    expect(loader.lastEpochStats!.seen).toBe(6);
    // the next epoch replaces it only when it ends
    const it2 = loader[Symbol.asyncIterator]();
    await it2.next();
    expect(loader.stats.yielded).toBe(2);
    expect(loader.lastEpochStats).toMatchObject(want);
    while (!(await it2.next()).done);
    expect(loader.lastEpochStats).toEqual(reports[1]!.stats);
    expect(loader.lastEpochStats).toMatchObject(want);
  });

  it('samples captions: first, seeded random (per epoch), or all', async () => {
    const items: DataItem[] = Array.from({ length: 12 }, (_, i) => ({ id: `i${i}`, image: { data: new Uint8Array(12), width: 2, height: 2, channels: 3 }, captions: ['c0', 'c1', 'c2'] }));
    const ds = datasets.fromItems(items);
    const texts = async (o: Partial<BatchesOptions>, epoch = 0): Promise<string[]> =>
      (await collect(ds.batches(opts({ ...o, epoch })))).flatMap((b) => b.texts);
    expect(await texts({ captionSampling: 'first' })).toEqual(Array(12).fill('c0'));
    const r0 = await texts({ captionSampling: 'random', seed: 3 });
    expect(await texts({ captionSampling: 'random', seed: 3 })).toEqual(r0);
    expect(new Set(r0).size).toBe(3);
    expect(await texts({ captionSampling: 'random', seed: 3 }, 1)).not.toEqual(r0);
    expect(await texts({ captionSampling: 'random', seed: 4 })).not.toEqual(r0);
    const all = await collect(ds.batches(opts({ captionSampling: 'all', batch_size: 5 })));
    expect(all.flatMap((b) => b.texts)).toEqual(items.flatMap(() => ['c0', 'c1', 'c2']));
    expect(all.map((b) => b.ids.length)).toEqual([5, 5, 5, 5, 5, 5, 5, 1]);
    expect(all[0]!.ids).toEqual(['i0', 'i0', 'i0', 'i1', 'i1']);
  });

  it('keeps dataset order whatever order decodes finish in, with bounded concurrency and prefetch', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const inner = new TestProcessor(4); // takes raw images
    const slow = {
      async preprocess(x: ItemImage | ItemImage[]): Promise<Tensor> {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((r) => setTimeout(r, Math.random() * 8));
        try {
          return await inner.preprocess(x);
        } finally {
          inFlight--;
        }
      },
    };
    let pulled = 0;
    const ds = datasets.synthetic({ size: 60, seed: 2, imageSize: 16 }).map((x) => {
      pulled++;
      return x;
    });
    const loader = ds.batches(opts({ imageProcessor: slow, batch_size: 5, concurrency: 3, prefetch: 2, captionSampling: 'first' }));
    const it = loader[Symbol.asyncIterator]();
    const first = await it.next();
    expect((first.value as Batch).ids).toEqual(['shapes-2-0', 'shapes-2-1', 'shapes-2-2', 'shapes-2-3', 'shapes-2-4']);
    await new Promise((r) => setTimeout(r, 50));
    expect(pulled).toBeLessThanOrEqual(5 + 2 * 5); // the batch handed out + 2 batches ahead
    expect(pulled).toBeGreaterThanOrEqual(5 + 5); // ... and it does read ahead
    const restIds: string[] = [];
    for (let r = await it.next(); !r.done; r = await it.next()) restIds.push(...r.value.ids);
    expect(restIds).toEqual(Array.from({ length: 55 }, (_, i) => `shapes-2-${i + 5}`));
    expect(maxInFlight).toBeLessThanOrEqual(3);
    expect(maxInFlight).toBeGreaterThan(1);
  });

  it('runs one epoch per iteration, reshuffling each epoch; onEpochEnd reports each', async () => {
    const reports: number[] = [];
    const ds = datasets.synthetic({ size: 20, seed: 1, imageSize: 16 }).shuffle({ seed: 9 });
    const loader = ds.batches(opts({ batch_size: 10, onEpochEnd: (r) => { reports.push(r.epoch); } }));
    const e0 = (await collect(loader)).flatMap((b) => b.ids);
    const e1 = (await collect(loader)).flatMap((b) => b.ids);
    expect(reports).toEqual([0, 1]);
    expect(e0).not.toEqual(e1);
    expect([...e0].sort()).toEqual([...e1].sort());
    loader.setEpoch(0);
    expect((await collect(loader)).flatMap((b) => b.ids)).toEqual(e0);
    // the same epoch from a fresh loader gives the same order
    expect((await collect(ds.batches(opts({ batch_size: 10, epoch: 1 })))).flatMap((b) => b.ids)).toEqual(e1);
  });

  it('validates options with one error format', () => {
    const ds = datasets.synthetic({ size: 4 });
    expect(() => ds.batches(opts({ batch_size: 0 }))).toThrow(/Expected a positive integer for batch_size but received number 0/);
    expect(() => ds.batches(opts({ imageProcessor: {} as never }))).toThrow(/imageProcessor/);
    expect(() => ds.batches(opts({ tokenizer: null as never }))).toThrow(/tokenizer/);
    expect(() => ds.batches(opts({ captionSampling: 'some' as never }))).toThrow(/captionSampling/);
    expect(() => ds.batches(opts({ padLabel: 0 as never }))).toThrow(/padLabel/);
    expect(() => ds.batches(opts({ maxSkipRatio: 2 }))).toThrow(/maxSkipRatio/);
    expect(() => ds.batches(opts({ concurrency: 1.5 }))).toThrow(InvalidArgumentError);
    expect(() => ds.batches(opts({ resumeFrom: {} as LoaderState }))).toThrow(/resumeFrom/);
  });

  it('rejects a processor that returns the wrong shape (a setup error, not a skipped item)', async () => {
    const bad = { preprocess: async () => Tensor.zeros([2, 3, 4, 4], 'float32') };
    await expect(collect(datasets.synthetic({ size: 4 }).batches(opts({ imageProcessor: bad })))).rejects.toThrow(/\[1, C, H, W\]/);
  });
});

describe('robustness', () => {
  /** A mix of odd-but-valid and broken inputs; returns the items and the expected skip counts. */
  async function mixedItems(): Promise<{ items: DataItem[]; skipped: Record<string, number>; good: string[] }> {
    const w = (name: string, data: Buffer | string): string => {
      const p = path.join(dir, name);
      writeFileSync(p, data);
      return p;
    };
    const base = sharp({ create: { width: 12, height: 7, channels: 3, background: { r: 200, g: 30, b: 60 } } });
    const jpeg = await base.clone().jpeg().toBuffer();
    const png = await base.clone().png().toBuffer();
    const gray = await base.clone().toColourspace('b-w').png().toBuffer();
    const grayAlpha = await sharp({ create: { width: 6, height: 6, channels: 4, background: { r: 9, g: 9, b: 9, alpha: 0.5 } } }).toColourspace('b-w').png().toBuffer();
    const rgba = await sharp({ create: { width: 6, height: 6, channels: 4, background: { r: 9, g: 90, b: 9, alpha: 0.5 } } }).png().toBuffer();
    const png16 = await base.clone().toColourspace('rgb16').png().toBuffer();
    const cmyk = await base.clone().toColourspace('cmyk').jpeg().toBuffer();
    const rotated = await base.clone().jpeg().withMetadata({ orientation: 6 }).toBuffer();
    expect((await sharp(gray).metadata()).channels).toBe(1);
    expect((await sharp(grayAlpha).metadata()).channels).toBe(2);
    expect((await sharp(png16).metadata()).depth).toBe('ushort');
    expect((await sharp(cmyk).metadata()).space).toBe('cmyk');
    const cap = (s: string): string[] => [s];
    const items: DataItem[] = [
      { id: 'jpeg', image: w('ok.jpg', jpeg), captions: cap('a jpeg') },
      { id: 'png-buffer', image: png, captions: cap('a png buffer') },
      { id: 'gray', image: w('gray.png', gray), captions: cap('one channel') },
      { id: 'gray-alpha', image: w('ga.png', grayAlpha), captions: cap('two channels') },
      { id: 'rgba', image: w('rgba.png', rgba), captions: cap('four channels') },
      { id: '16bit', image: w('deep.png', png16), captions: cap('sixteen bit') },
      { id: 'cmyk', image: w('cmyk.jpg', cmyk), captions: cap('cmyk') },
      { id: 'exif', image: w('rot.jpg', rotated), captions: cap('rotated') },
      { id: 'latin1', image: png, captions: [Buffer.from('caf\xe9 au lait', 'latin1').toString('utf8')] },
      { id: 'controls', image: png, captions: ['  tab\tand\u0007bell  ', '   '] },
      { id: 'raw', image: { data: new Uint8Array(4 * 3 * 3), width: 4, height: 3, channels: 3 }, captions: cap('raw pixels') },
      // broken
      { id: 'zero-byte', image: w('zero.jpg', ''), captions: cap('x') },
      { id: 'zero-buffer', image: Buffer.alloc(0), captions: cap('x') },
      { id: 'truncated-jpeg', image: w('trunc.jpg', jpeg.subarray(0, Math.floor(jpeg.length / 2))), captions: cap('x') },
      { id: 'truncated-png', image: w('trunc.png', png.subarray(0, Math.floor(png.length / 2))), captions: cap('x') },
      { id: 'garbage', image: w('garbage.jpg', Buffer.from('this is not an image at all, not even close')), captions: cap('x') },
      { id: 'missing', image: path.join(dir, 'does-not-exist.jpg'), captions: cap('x') },
      { id: 'huge', image: w('huge.png', await hugeHeaderPng(30000, 30000)), captions: cap('x') },
      { id: 'no-caption', image: png, captions: [] },
      { id: 'blank-caption', image: png, captions: [' ', '\n\t'] },
      { id: 'bad-line', image: '', captions: [], error: 'bad_manifest_line' },
      { id: 'bad-raw', image: { data: new Uint8Array(5), width: 4, height: 3, channels: 3 }, captions: cap('x') },
    ];
    const skipped = {
      empty_file: 2, corrupt_image: 3, missing_file: 1, too_large: 1, empty_caption: 2, bad_manifest_line: 1, bad_image: 1,
    };
    return { items, skipped, good: items.slice(0, 11).map((x) => x.id) };
  }

  it('skips and counts bad items by reason, normalizes text, passes odd formats through', async () => {
    const { items, skipped, good } = await mixedItems();
    const reports: EpochReport[] = [];
    const logs: string[] = [];
    const loader = datasets.fromItems(items).batches(opts({
      batch_size: 3, captionSampling: 'all', maxSkipRatio: 0.6, onEpochEnd: (r) => { reports.push(r); }, log: (m) => logs.push(m),
    }));
    const batches = await collect(loader);
    const ids = batches.flatMap((b) => b.ids);
    expect(ids).toEqual(good);
    for (const b of batches) for (const v of b.pixel_values.data) expect(Number.isFinite(v)).toBe(true);
    const texts = batches.flatMap((b) => b.texts);
    expect(texts[ids.indexOf('latin1')]).toBe('caf au lait');
    expect(texts[ids.indexOf('controls')]).toBe('tab andbell');
    expect(reports).toHaveLength(1);
    const s = reports[0]!.stats;
    expect(s.skipped).toEqual(skipped);
    expect(s.seen).toBe(items.length);
    expect(s.yielded).toBe(good.length);
    expect(s.normalized).toEqual({ invalid_utf8: 1, control_chars: 1, dropped_empty_caption: 1 });
    expect(s.examples.missing_file![0]).toContain('does-not-exist.jpg');
    expect(s.examples.corrupt_image!.join()).toMatch(/truncated-jpeg/);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/epoch 0: 11 of 22 items used, 11 skipped \(corrupt_image=3, empty_caption=2, empty_file=2, bad_image=1, bad_manifest_line=1, missing_file=1, too_large=1\), 3 fixed \(control_chars=1, dropped_empty_caption=1, invalid_utf8=1\)$/);
  });

  it('fails with a clear error when more than maxSkipRatio of an epoch is bad', async () => {
    const { items } = await mixedItems();
    // size known: fails as soon as the limit cannot be met any more
    const early = await collect(datasets.fromItems(items).batches(opts({ batch_size: 3 }))).catch((e: unknown) => e); // default maxSkipRatio 0.1
    expect(early).toBeInstanceOf(DataQualityError);
    expect((early as Error).message).toMatch(/^Skipped 3 of 14 items \(21\.4%\) so far in epoch 0, more than maxSkipRatio 0\.1 allows; most common reason: empty_file \(2, e\.g\. .*zero\.jpg; zero-buffer: zero bytes\); all reasons: empty_file=2, corrupt_image=1\./);
    // a stream (size unknown): fails at the end of the epoch, after reporting it
    let reported: EpochReport | undefined;
    const stream = Dataset.fromGenerator(() => items);
    const err = await collect(stream.batches(opts({ batch_size: 3, onEpochEnd: (r) => { reported = r; } }))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataQualityError);
    expect((err as Error).message).toMatch(/^Skipped 11 of 22 items \(50\.0%\) in epoch 0, more than maxSkipRatio 0\.1 allows; most common reason: corrupt_image \(3, e\.g\. truncated-jpeg: .*\); all reasons: corrupt_image=3, empty_caption=2, empty_file=2, bad_image=1, bad_manifest_line=1, missing_file=1, too_large=1\./);
    expect((err as DataQualityError).stats.skipped.corrupt_image).toBe(3);
    expect(reported?.stats.seen).toBe(22);
    // a stream of only missing files gives up early instead of reading everything
    let read = 0;
    const hopeless = Dataset.fromGenerator(function* () {
      for (let i = 0; i < 100_000; i++) {
        read++;
        yield { id: `m${i}`, image: path.join(dir, `missing-${i}.jpg`), captions: ['x'] };
      }
    });
    await expect(collect(hopeless.batches(opts()))).rejects.toThrow(/most common reason: missing_file \(100/);
    expect(read).toBeLessThan(200);
  });

  it('never fails on bad items with maxSkipRatio 1', async () => {
    const { items, good } = await mixedItems();
    const batches = await collect(datasets.fromItems([...items, ...items]).batches(opts({ maxSkipRatio: 1 })));
    expect(batches.flatMap((b) => b.ids)).toEqual([...good, ...good]);
  });
});

describe('resume', () => {
  async function checkResume(ds: Dataset, o: Partial<BatchesOptions>, randomAccess: boolean): Promise<void> {
    expect(await ds.hasRandomAccess()).toBe(randomAccess);
    const full = await collect(ds.batches(opts(o)));
    const keys = full.map(key);
    const fullStats = (() => {
      let stats: EpochReport['stats'] | undefined;
      return { set: (s: EpochReport) => { stats = s.stats; }, get: () => stats };
    })();
    await collect(ds.batches(opts({ ...o, onEpochEnd: fullStats.set })));
    for (const k of [0, 1, Math.floor(full.length / 2), full.length - 1, full.length]) {
      const first = ds.batches(opts(o));
      const it = first[Symbol.asyncIterator]();
      for (let i = 0; i < k; i++) await it.next();
      const state = JSON.parse(JSON.stringify(first.state())) as LoaderState;
      await it.return?.();
      expect(state.batches).toBe(k);
      const proc = new CountingProcessor(o.imageProcessor ?? realProcessor(8));
      let end: EpochReport | undefined;
      const resumed = ds.batches(opts({ ...o, imageProcessor: proc, resumeFrom: state, onEpochEnd: (r) => { end = r; } }));
      const rest = await collect(resumed);
      expect(rest.map(key)).toEqual(keys.slice(k));
      // only the items still to come went through the decoder (plus one carried item)
      const restItems = new Set(rest.flatMap((b) => b.ids)).size;
      expect(proc.calls).toBeGreaterThanOrEqual(restItems);
      expect(proc.calls).toBeLessThanOrEqual(restItems + 1 + (end!.stats.seen - end!.stats.yielded));
      expect(end!.stats).toEqual(fullStats.get());
      expect(resumed.state()).toMatchObject({ epoch: (o.epoch ?? 0) + 1, index: 0, batches: 0 });
    }
  }

  it('random access source (synthetic, shuffled): the same following batches, no replay', async () => {
    const ds = datasets.synthetic({ size: 37, seed: 4, imageSize: 16 }).shuffle({ seed: 1, buffer_size: 8 });
    const imageProcessor = new TestProcessor(8); // takes raw images, so every decode is one call
    await checkResume(ds, { batch_size: 5, captionSampling: 'random', seed: 2, imageProcessor }, true);
    await checkResume(ds, { batch_size: 5, captionSampling: 'random', seed: 2, epoch: 3, imageProcessor }, true);
  });

  it('streaming source with bad items: the same following batches and counts', async () => {
    const good = await solidImage(4, 4, [10, 20, 30]);
    const list: DataItem[] = Array.from({ length: 40 }, (_, i) => ({
      id: `s${i}`,
      image: i % 7 === 3 ? Buffer.from('corrupt') : good,
      captions: i % 11 === 5 ? [] : [`caption number ${i}`, `other ${i}`, `third ${i}`],
    }));
    const ds = Dataset.fromGenerator(async function* () {
      yield* list;
    }).shuffle({ seed: 3, buffer_size: 6 });
    await checkResume(ds, { batch_size: 4, captionSampling: 'random', maxSkipRatio: 0.5 }, false);
    // 'all' splits items across batches: resume carries the rest of an item
    await checkResume(ds, { batch_size: 4, captionSampling: 'all', maxSkipRatio: 0.5 }, false);
    await checkResume(ds.filter((x) => x.id !== 's0'), { batch_size: 3, drop_last: true, maxSkipRatio: 0.5 }, false);
  });

  it('jsonl manifest on disk resumes by reading lines, not decoding images', async () => {
    const img = path.join(dir, 'r.png');
    writeFileSync(img, await solidImage(4, 4, [1, 1, 1]));
    const file = path.join(dir, 'resume.jsonl');
    writeFileSync(file, Array.from({ length: 23 }, (_, i) => JSON.stringify({ image: 'r.png', captions: [`c ${i}`], id: `j${i}` })).join('\n'));
    await checkResume(datasets.jsonl(file), { batch_size: 4, captionSampling: 'first' }, false);
  });

  it('random access resume jumps: items before the position are not even fetched', async () => {
    const fetched: number[] = [];
    const ds = datasets.synthetic({ size: 1000, seed: 6, imageSize: 16 })
      .map((x) => {
        fetched.push(Number(x.id.split('-')[2]));
        return x;
      })
      .shuffle({ seed: 2, buffer_size: 50 });
    const state: LoaderState = {
      ...ds.batches(opts({ batch_size: 8 })).state(), index: 992, batches: 124,
    };
    const rest = await collect(ds.batches(opts({ batch_size: 8, resumeFrom: state })));
    expect(rest).toHaveLength(1);
    expect(fetched).toHaveLength(8);
    const all = await ds.toArray();
    expect(rest[0]!.ids).toEqual(all.slice(992).map((x) => x.id));
  });

  it('continuing a partly consumed loader in-process equals resuming from its state', async () => {
    const ds = datasets.synthetic({ size: 30, seed: 8, imageSize: 16 });
    const loader = ds.batches(opts({ batch_size: 4 }));
    const it = loader[Symbol.asyncIterator]();
    await it.next();
    await it.next();
    await it.return?.();
    const state = loader.state();
    const a = await collect(loader);
    const b = await collect(ds.batches(opts({ batch_size: 4, resumeFrom: state })));
    expect(a.map(key)).toEqual(b.map(key));
    expect(a.length).toBe(6);
  });

  it('refuses a resume with a different seed or sampling', () => {
    const ds = datasets.synthetic({ size: 4 });
    const state = ds.batches(opts({ seed: 5 })).state();
    expect(() => ds.batches(opts({ seed: 6, resumeFrom: state }))).toThrow(/seed 5/);
    expect(() => ds.batches(opts({ captionSampling: 'all', resumeFrom: state }))).toThrow(/captionSampling 'random'/);
    expect(ds.batches(opts({ resumeFrom: state })).state().seed).toBe(5);
  });
});

describe('errors from sources', () => {
  it('surface to the consumer and leave the loader usable', async () => {
    const loader = datasets.parquet(path.join(dir, 'nope.parquet')).batches(opts());
    await expect(collect(loader)).rejects.toThrow(/nope\.parquet/);
    await expect(collect(loader)).rejects.toThrow(/nope\.parquet/); // not "already iterating"
    const jl = datasets.jsonl(path.join(dir, 'nope.jsonl')).batches(opts());
    await expect(collect(jl)).rejects.toThrow(/nope\.jsonl/);
    await expect(collect(jl)).rejects.toThrow(/nope\.jsonl/);
  });
});
