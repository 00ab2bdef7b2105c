import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Dataset, datasets, type DataItem } from '../../lib/data/index.js';
import { InvalidArgumentError } from '../../lib/errors.js';

function items(n: number): DataItem[] {
  return Array.from({ length: n }, (_, i) => ({ id: `item-${i}`, image: `/img/${i}.jpg`, captions: [`caption ${i}`] }));
}

const ids = async (ds: Dataset, opts: { epoch?: number; start?: number } = {}): Promise<string[]> =>
  (await ds.toArray(opts)).map((x) => x.id);

/** The same items as a stream (no random access). */
function streamOf(list: DataItem[]): Dataset {
  return Dataset.fromGenerator(async function* () {
    for (const x of list) yield x;
  });
}

describe('Dataset ops', () => {
  const base = datasets.fromItems(items(100));

  it('map keeps random access and passes the position', async () => {
    const m = base.map((x, i) => ({ ...x, captions: [`${x.captions[0]} @${i}`] }));
    expect(await m.hasRandomAccess()).toBe(true);
    expect((await m.get(5)).captions).toEqual(['caption 5 @5']);
    const async = streamOf(items(5)).map(async (x, i) => ({ ...x, id: `${x.id}/${i}` }));
    expect(await ids(async)).toEqual(['item-0/0', 'item-1/1', 'item-2/2', 'item-3/3', 'item-4/4']);
  });

  it('filter streams and supports start positions', async () => {
    // A filter over a stream streams; over a random-access dataset it keeps random access (next test).
    const even = streamOf(items(100)).filter((x) => Number(x.id.slice(5)) % 2 === 0);
    expect(await even.hasRandomAccess()).toBe(false);
    expect(await even.size()).toBeUndefined();
    const all = await ids(even);
    expect(all).toHaveLength(50);
    expect(await ids(even, { start: 45 })).toEqual(all.slice(45));
    const asyncPred = base.filter(async (x) => x.id.endsWith('7'));
    expect(await ids(asyncPred)).toEqual(['item-7', 'item-17', 'item-27', 'item-37', 'item-47', 'item-57', 'item-67', 'item-77', 'item-87', 'item-97']);
    await expect(streamOf(items(3)).filter(() => true).get(0)).rejects.toThrow(InvalidArgumentError);
  });

  it('filter on a random-access dataset keeps random access and its length (one pass, as datasets.Dataset.filter)', async () => {
    let calls = 0;
    const even = base.filter((x, i) => {
      calls++;
      return i % 2 === 0;
    });
    expect(calls).toBe(0); // lazy until read
    expect(await even.hasRandomAccess()).toBe(true);
    expect(await even.size()).toBe(50);
    expect(calls).toBe(100); // one pass
    expect((await even.get(3)).id).toBe('item-6');
    expect(await ids(even, { start: 48 })).toEqual(['item-96', 'item-98']);
    expect(await ids(even)).toEqual((await ids(streamOf(items(100)).filter((_, i) => i % 2 === 0))));
    expect(calls).toBe(100); // the kept positions are reused within an epoch
    await expect(even.get(50)).rejects.toThrow(/below 50/);
    // after a shuffle the pass runs per epoch, over that epoch's order
    const sh = base.shuffle({ seed: 3 }).filter((x) => Number(x.id.slice(5)) < 10);
    expect(await sh.size({ epoch: 0 })).toBe(10);
    expect(new Set(await ids(sh, { epoch: 1 }))).toEqual(new Set(items(10).map((x) => x.id)));
    expect(await ids(sh, { epoch: 0 })).not.toEqual(await ids(sh, { epoch: 1 }));
    // ops after filter keep random access too
    expect(await even.take(5).size()).toBe(5);
    expect((await even.map((x) => ({ ...x, id: x.id.toUpperCase() })).get(1)).id).toBe('ITEM-2');
    // a predicate that throws rejects the read; a later read tries again
    let fail = true;
    const flaky = base.filter(() => {
      if (fail) throw new Error('boom');
      return true;
    });
    await expect(flaky.size()).rejects.toThrow('boom');
    fail = false;
    expect(await flaky.size()).toBe(100);
  });

  it('take and skip, with and without random access', async () => {
    for (const ds of [base, streamOf(items(100))]) {
      expect(await ids(ds.take(3))).toEqual(['item-0', 'item-1', 'item-2']);
      expect(await ids(ds.skip(97))).toEqual(['item-97', 'item-98', 'item-99']);
      expect(await ids(ds.skip(10).take(2))).toEqual(['item-10', 'item-11']);
      expect(await ids(ds.take(0))).toEqual([]);
      expect(await ids(ds.skip(1000))).toEqual([]);
      expect(await ids(ds.skip(10).take(5), { start: 3 })).toEqual(['item-13', 'item-14']);
    }
    expect(await base.take(7).size()).toBe(7);
    expect(await base.skip(90).size()).toBe(10);
    expect(() => base.take(-1)).toThrow(InvalidArgumentError);
    expect(() => base.skip(1.5)).toThrow(/non-negative integer/);
  });

  it('shuffle is a seeded permutation, different per epoch, same with or without random access', async () => {
    const s = base.shuffle({ seed: 42, buffer_size: 16 });
    const e0 = await ids(s, { epoch: 0 });
    expect([...e0].sort()).toEqual([...(await ids(base))].sort());
    expect(e0).not.toEqual(await ids(base));
    expect(await ids(base.shuffle({ seed: 42, buffer_size: 16 }), { epoch: 0 })).toEqual(e0); // same seed -> same order
    const e1 = await ids(s, { epoch: 1 });
    expect(e1).not.toEqual(e0);
    expect(await ids(s.setEpoch(1))).toEqual(e1); // setEpoch drives plain iteration
    s.setEpoch(0);
    expect(await ids(base.shuffle({ seed: 43, buffer_size: 16 }))).not.toEqual(e0);
    // streaming path gives the identical order
    expect(await ids(streamOf(items(100)).shuffle({ seed: 42, buffer_size: 16 }), { epoch: 0 })).toEqual(e0);
    expect(await ids(streamOf(items(100)).shuffle({ seed: 42, buffer_size: 16 }), { epoch: 1 })).toEqual(e1);
    // start positions
    expect(await ids(s, { epoch: 1, start: 60 })).toEqual(e1.slice(60));
    expect(await ids(streamOf(items(100)).shuffle({ seed: 42, buffer_size: 16 }), { epoch: 1, start: 60 })).toEqual(e1.slice(60));
    // a buffer as large as the data mixes globally: the last item can come first
    const full = await ids(base.shuffle({ seed: 1, buffer_size: Infinity }));
    expect(full.slice(0, 10).some((id) => Number(id.slice(5)) >= 50)).toBe(true);
    expect(() => base.shuffle({ buffer_size: 0 })).toThrow(InvalidArgumentError);
    // default: a full permutation with random access, a 1000-item buffer for streams
    const big = items(3000);
    const dflt = await ids(datasets.fromItems(big).shuffle({ seed: 4 }));
    expect(dflt).toEqual(await ids(datasets.fromItems(big).shuffle({ seed: 4, buffer_size: Infinity })));
    expect(dflt.slice(0, 20).filter((id) => Number(id.slice(5)) >= 1500).length).toBeGreaterThan(3);
    expect(await ids(streamOf(big).shuffle({ seed: 4 }))).toEqual(await ids(datasets.fromItems(big).shuffle({ seed: 4, buffer_size: 1000 })));
  });

  it('shuffle is a permutation for any seed, size and buffer (property)', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 1, max: 80 }), fc.integer(), fc.nat(5),
      async (n, buffer, seed, epoch) => {
        const list = items(n);
        const a = await ids(datasets.fromItems(list).shuffle({ seed, buffer_size: buffer }), { epoch });
        const b = await ids(streamOf(list).shuffle({ seed, buffer_size: buffer }), { epoch });
        expect(a).toEqual(b);
        expect([...a].sort()).toEqual(list.map((x) => x.id).sort());
      }), { numRuns: 60 });
  });

  it('split is stable by id: disjoint, complete, order-independent', async () => {
    const { train, test } = base.split({ test_size: 0.2, seed: 3 });
    const tr = await ids(train);
    const te = await ids(test);
    expect(tr.length + te.length).toBe(100);
    expect(new Set([...tr, ...te]).size).toBe(100);
    expect(te.length).toBeGreaterThan(8);
    expect(te.length).toBeLessThan(35);
    // independent of order and of the other items
    const shuffledTest = await ids(base.shuffle({ seed: 9 }).split({ test_size: 0.2, seed: 3 }).test);
    expect([...shuffledTest].sort()).toEqual([...te].sort());
    const subsetTest = await ids(base.take(50).split({ test_size: 0.2, seed: 3 }).test);
    expect(subsetTest).toEqual(te.filter((id) => Number(id.slice(5)) < 50));
    // streaming path agrees, and random access is kept where the parent has it
    expect(await ids(streamOf(items(100)).split({ test_size: 0.2, seed: 3 }).test)).toEqual(te);
    expect(await test.hasRandomAccess()).toBe(true);
    expect((await test.get(1)).id).toBe(te[1]);
    expect(await ids(test, { start: 2 })).toEqual(te.slice(2));
    // another seed moves items
    expect(await ids(base.split({ test_size: 0.2, seed: 4 }).test)).not.toEqual(te);
    expect(await ids(base.split({ test_size: 0 }).test)).toEqual([]);
    expect(() => base.split({ test_size: 1.5 })).toThrow(InvalidArgumentError);
  });

  it('shard covers every item exactly once (random access and streaming)', async () => {
    for (const world of [1, 2, 3, 4, 7]) {
      for (const src of [base.shuffle({ seed: 5 }), streamOf(items(100)).shuffle({ seed: 5 })]) {
        const seen: string[] = [];
        const sizes: number[] = [];
        for (let rank = 0; rank < world; rank++) {
          const part = await ids(src.shard(rank, world), { epoch: 2 });
          sizes.push(part.length);
          seen.push(...part);
        }
        expect(seen.sort()).toEqual((await ids(base)).sort());
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      }
    }
    const sh = base.shard(1, 3);
    expect(await sh.size()).toBe(33);
    expect(await ids(sh, { start: 30 })).toEqual(['item-91', 'item-94', 'item-97']);
    expect(await ids(streamOf(items(100)).shard(1, 3), { start: 30 })).toEqual(['item-91', 'item-94', 'item-97']);
    expect(() => base.shard(3, 3)).toThrow(/shard rank/);
    expect(() => base.shard(0, 0)).toThrow(/worldSize/);
  });

  it('shard covers every item exactly once for any size (property)', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: 50 }), fc.integer({ min: 1, max: 8 }), async (n, world) => {
      const list = items(n);
      const seen: string[] = [];
      for (let rank = 0; rank < world; rank++) seen.push(...(await ids(streamOf(list).shard(rank, world))));
      expect(seen.sort()).toEqual(list.map((x) => x.id).sort());
    }), { numRuns: 40 });
  });

  it('pipelines compose, iterate with for-await and re-iterate', async () => {
    const ds = datasets.synthetic({ size: 1000, seed: 1 })
      .map((x) => ({ ...x, captions: [x.captions[0]!] }))
      .shuffle({ seed: 2, buffer_size: 64 })
      .skip(100)
      .take(300)
      .shard(0, 2);
    expect(await ds.size()).toBe(150);
    let n = 0;
    for await (const x of ds) {
      expect(x.captions).toHaveLength(1);
      n++;
    }
    expect(n).toBe(150);
    expect(await ids(ds)).toEqual(await ids(ds));
    expect(() => Dataset.fromItems('x' as unknown as DataItem[])).toThrow(InvalidArgumentError);
  });
});
