/**
 * datasets.webdataset: tar shards written here with tar-stream's pack, tiny images made with sharp.
 */
import { copyFileSync, createReadStream, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import fc from 'fast-check';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasets, type BatchesOptions, type DataItem, type LoaderState, type WebDatasetOptions } from '../../lib/data/index.js';
import { FormatError, InvalidArgumentError } from '../../lib/errors.js';
import type { Tokenizer } from '../../lib/processing/index.js';
import { datasetFromSpec, parseDataArgument } from '../../lib/train/specs.js';
import { collect, realProcessor, realTokenizer, rows, solidImage, tempDir } from './helpers.js';

type Member = readonly [name: string, body: string | Uint8Array];

/** A tar archive of the members, in order (tar-stream's pack, as webdataset's TarWriter writes them). */
async function packTar(members: readonly Member[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack) chunks.push(c as Buffer);
  })();
  for (const [name, body] of members) pack.entry({ name }, typeof body === 'string' ? Buffer.from(body) : body);
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** One sample: key, image bytes and caption, written as key.jpg + key.txt (or .json when `json`). */
interface Sample {
  key: string;
  image: Buffer;
  caption: string;
  json?: boolean;
}

function members(samples: readonly Sample[]): Member[] {
  return samples.flatMap((s): Member[] => [
    [`${s.key}.jpg`, s.image],
    s.json ? [`${s.key}.json`, JSON.stringify({ caption: s.caption, url: 'http://example.com' })] : [`${s.key}.txt`, s.caption],
  ]);
}

async function writeShard(file: string, samples: readonly Sample[]): Promise<string> {
  writeFileSync(file, await packTar(members(samples)));
  return file;
}

/** What identifies an item: id, captions, and the image bytes (or the error). */
function simple(x: DataItem): { id: string; captions: string[]; image?: string; error?: string } {
  if (x.error) return { id: x.id, captions: x.captions, error: x.error };
  return { id: x.id, captions: x.captions, image: Buffer.from(x.image as Uint8Array).toString('base64') };
}

const silent: WebDatasetOptions = { log: () => {} };

let dir: string;
let cleanup: () => void;
let tok: Tokenizer;
let colors: Buffer[];
/** 4 shards x 5 samples: shard-0000{s}.tar holds keys s*5 .. s*5+4. */
let shardFiles: string[];
let allSamples: Sample[][];

beforeAll(async () => {
  ({ dir, cleanup } = tempDir('tc-wds-'));
  tok = await realTokenizer();
  colors = await Promise.all([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [0, 255, 255]]
    .map((rgb) => solidImage(6, 6, rgb as [number, number, number], 'jpeg')));
  allSamples = [0, 1, 2, 3].map((s) => [0, 1, 2, 3, 4].map((i): Sample => {
    const n = s * 5 + i;
    return { key: `${String(n).padStart(6, '0')}`, image: colors[n % colors.length]!, caption: `caption number ${n}`, json: n % 3 === 0 };
  }));
  shardFiles = await Promise.all(allSamples.map((samples, s) => writeShard(path.join(dir, `shard-${String(s).padStart(5, '0')}.tar`), samples)));
});
afterAll(() => cleanup());

const expectedItems = (shards: readonly number[]): ReturnType<typeof simple>[] => shards.flatMap((s) => allSamples[s]!.map((x) => ({
  id: `shard-${String(s).padStart(5, '0')}/${x.key}`, captions: [x.caption], image: x.image.toString('base64'),
})));

function loaderOptions(extra: Partial<BatchesOptions> = {}): BatchesOptions {
  return { batch_size: 3, max_length: 16, imageProcessor: realProcessor(8), tokenizer: tok, concurrency: 2, prefetch: 2, log: () => {}, ...extra };
}

const batchKey = (b: { ids: string[]; texts: string[]; labels: Parameters<typeof rows>[0] }): unknown => ({ ids: b.ids, texts: b.texts, labels: rows(b.labels) });

describe('datasets.webdataset: reading', () => {
  it('streams every sample in order across shards: image bytes, captions, id = shard/key', async () => {
    const ds = datasets.webdataset(shardFiles, silent);
    expect(await ds.hasRandomAccess()).toBe(false);
    expect(await ds.size()).toBeUndefined();
    expect((await ds.toArray()).map(simple)).toEqual(expectedItems([0, 1, 2, 3]));
    expect((await ds.toArray({ start: 7, limit: 4 })).map(simple)).toEqual(expectedItems([0, 1, 2, 3]).slice(7, 11));
  });

  it('expands brace patterns, keeping zero padding, and takes file:// URLs', async () => {
    const pattern = path.join(dir, 'shard-{00000..00003}.tar');
    expect((await datasets.webdataset(pattern, silent).toArray()).map(simple)).toEqual(expectedItems([0, 1, 2, 3]));
    const two = [path.join(dir, 'shard-{00002,00000}.tar')];
    expect((await datasets.webdataset(two, silent).toArray()).map(simple)).toEqual(expectedItems([2, 0]));
    expect((await datasets.webdataset(`file://${shardFiles[1]}`, silent).toArray()).map(simple)).toEqual(expectedItems([1]));
    // Past braces' default range limit of 1000 (LAION has 231k shards).
    const many = await datasets.webdataset(path.join(dir, 'absent', '{00000..01999}.tar'), { ...silent, skipMissingShards: true }).toArray();
    expect(many.map((x) => path.basename(x.id))).toEqual(Array.from({ length: 2000 }, (_, i) => `${String(i).padStart(5, '0')}.tar`));
    expect(() => datasets.webdataset('{0..2000000}.tar')).toThrow(/at most 1000000 shards/);
  });

  it('reads txt (whole, trimmed) and json captions (default fields, lists, textField), skips incomplete samples as errors', async () => {
    const img = colors[0]!;
    const file = path.join(dir, 'captions.tar');
    writeFileSync(file, await packTar([
      ['a.jpg', img], ['a.txt', '  two lines\nof caption \n'],
      ['dir/b.PNG', img], ['dir/b.json', JSON.stringify({ text: 'from text' })],
      ['c.webp', img], ['c.json', JSON.stringify({ captions: ['one', 'two'], alt: 'alt text' })],
      ['d.jpeg', img], ['d.json', JSON.stringify({ sentences: [{ raw: 'raw one' }], alt: 'd alt' })], ['d.txt', 'txt wins'],
      ['e.jpg', img], ['e.cls', '3'],
      ['f.txt', 'no image'],
      ['g.jpg', img], ['g.json', '{not json'],
      ['h.seg.png', img], ['h.txt', 'only a segmentation mask'],
      ['i.jpg', img], ['i.npy', Buffer.alloc(100)], ['i.txt', 'extra members ignored'],
    ]));
    const items = (await datasets.webdataset(file, silent).toArray()).map(simple);
    const b64 = img.toString('base64');
    expect(items).toEqual([
      { id: 'captions/a', captions: ['two lines\nof caption'], image: b64 },
      { id: 'captions/dir/b', captions: ['from text'], image: b64 },
      { id: 'captions/c', captions: ['one', 'two'], image: b64 },
      { id: 'captions/d', captions: ['txt wins'], image: b64 },
      { id: 'captions/e', captions: [], error: 'missing_caption' },
      { id: 'captions/f', captions: [], error: 'missing_image' },
      { id: 'captions/g', captions: [], error: 'bad_caption_json' },
      { id: 'captions/h', captions: [], error: 'missing_image' },
      { id: 'captions/i', captions: ['extra members ignored'], image: b64 },
    ]);
    const alt = (await datasets.webdataset(file, { ...silent, textField: 'alt' }).toArray()).map(simple);
    expect(alt.slice(2, 4).map((x) => x.captions)).toEqual([['alt text'], ['d alt']]);
    expect(alt[0]!.captions).toEqual(['two lines\nof caption']); // no json: the txt
    const pngOnly = await datasets.webdataset(file, { ...silent, imageExtensions: ['png'] }).toArray();
    expect(pngOnly.filter((x) => !x.error).map((x) => x.id)).toEqual(['captions/dir/b']);
  });

  it('refuses bad arguments', () => {
    expect(() => datasets.webdataset([], silent)).toThrow(InvalidArgumentError);
    expect(() => datasets.webdataset('s3://bucket/x.tar', silent)).toThrow(/presigned https URL/);
    expect(() => datasets.webdataset('pipe:curl -s http://host/x.tar', silent)).toThrow(/pipe: is not supported/);
    expect(() => datasets.webdataset(shardFiles, { imageExtensions: [] })).toThrow(InvalidArgumentError);
    expect(() => datasets.webdataset(shardFiles, { maxMemberBytes: 0 })).toThrow(InvalidArgumentError);
    expect(() => datasets.webdataset(shardFiles, { shuffleShards: 'yes' as unknown as boolean })).toThrow(InvalidArgumentError);
  });

  it('a missing shard is a FormatError naming it and the fix, or with skipMissingShards one counted item', async () => {
    const missing = path.join(dir, 'nope-{0..1}.tar');
    const err = await datasets.webdataset(missing, silent).toArray().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FormatError);
    expect((err as Error).message).toContain(path.join(dir, 'nope-0.tar'));
    expect((err as Error).message).toMatch(/ENOENT.*check the path.*skipMissingShards: true/);
    const logs: string[] = [];
    const ds = datasets.webdataset([shardFiles[0]!, path.join(dir, 'nope.tar'), shardFiles[1]!], { skipMissingShards: true, log: (m) => logs.push(m) });
    const items = (await ds.toArray()).map(simple);
    expect(items).toEqual([...expectedItems([0]), { id: path.join(dir, 'nope.tar'), captions: [], error: 'missing_shard' }, ...expectedItems([1])]);
    expect(logs).toEqual([expect.stringMatching(/nope\.tar cannot be read \(ENOENT\); skipped/)]);
  });

  it('members over maxMemberBytes are not buffered: the sample is skipped as too_large', async () => {
    const items = await datasets.webdataset(shardFiles[0]!, { ...silent, maxMemberBytes: 100 }).toArray();
    expect(items.map((x) => x.error)).toEqual(Array(5).fill('too_large'));
  });
});

describe('datasets.webdataset: damaged shards', () => {
  it('a truncated shard ends with a warning naming it and the member; a corrupt image is skipped by the loader; the rest still comes', async () => {
    const whole = readFileSync(shardFiles[1]!);
    // Cut inside the body of the 3rd member (000006.jpg, the 2nd sample's image), past its 512-byte header.
    const offsets: number[] = [];
    await collectOffsets(whole, offsets);
    const cut = offsets[2]! + 512 + 10;
    const truncated = path.join(dir, 'truncated.tar');
    writeFileSync(truncated, whole.subarray(0, cut));
    const corrupt = path.join(dir, 'corrupt-image.tar');
    writeFileSync(corrupt, await packTar([['bad.jpg', Buffer.from('definitely not a jpeg, just random bytes \x01\x02')], ['bad.txt', 'garbage'], ...members(allSamples[2]!.slice(0, 1))]));
    const logs: string[] = [];
    const ds = datasets.webdataset([shardFiles[0]!, truncated, corrupt, shardFiles[3]!], { log: (m) => logs.push(m) });

    const items = (await ds.toArray()).map(simple);
    expect(items.map((x) => x.id)).toEqual([
      ...expectedItems([0]).map((x) => x.id),
      'truncated/000005', // the first sample of the cut shard survives; the second is lost with the rest
      `${truncated}#3`,
      'corrupt-image/bad', 'corrupt-image/000010',
      ...expectedItems([3]).map((x) => x.id),
    ]);
    expect(items.find((x) => x.id === `${truncated}#3`)!.error).toBe('corrupt_shard');
    expect(logs).toEqual([expect.stringMatching(/truncated\.tar ends early in member 3 \(000006\.jpg\): Unexpected end of data; the rest of the shard is skipped/)]);

    const reports: { skipped: Record<string, number>; yielded: number; seen: number }[] = [];
    const loader = ds.batches(loaderOptions({ maxSkipRatio: 1, onEpochEnd: (r) => { reports.push(r.stats); } }));
    const ids = (await collect(loader)).flatMap((b) => b.ids);
    expect(ids).toEqual(items.filter((x) => x.error === undefined && x.id !== 'corrupt-image/bad').map((x) => x.id));
    expect(reports[0]!.skipped).toEqual({ corrupt_shard: 1, corrupt_image: 1 });
    expect(reports[0]!.seen).toBe(items.length);
  });
});

/** Byte offsets of each member's header in a tar (headers are where tar-stream reports each entry). */
async function collectOffsets(bytes: Buffer, out: number[]): Promise<void> {
  const ex = tar.extract();
  const done = (async () => {
    for await (const entry of ex) {
      out.push((entry as unknown as { offset: number }).offset);
      for await (const _ of entry) { /* drain */ }
    }
  })();
  ex.end(bytes);
  await done;
}

describe('datasets.webdataset: sharding by rank', () => {
  it('splits whole tar files when there are at least world shards (file i to rank i % world)', async () => {
    const ds = datasets.webdataset(shardFiles, silent);
    const r0 = (await ds.shard(0, 2).toArray()).map(simple);
    const r1 = (await ds.shard(1, 2).toArray()).map(simple);
    expect(r0).toEqual(expectedItems([0, 2]));
    expect(r1).toEqual(expectedItems([1, 3]));
    const mapped = ds.map((x) => ({ ...x, captions: x.captions.map((c) => c.toUpperCase()) }));
    expect((await mapped.shard(1, 2).toArray()).map((x) => x.id)).toEqual(expectedItems([1, 3]).map((x) => x.id));
    // shard of shard: rank 1 of 2 of rank 0's two files
    expect((await ds.shard(0, 2).shard(1, 2).toArray()).map(simple)).toEqual(expectedItems([2]));
  });

  it('falls back to striding over items with fewer shards than ranks', async () => {
    const ds = datasets.webdataset(shardFiles[0]!, silent);
    const all = expectedItems([0]);
    expect((await ds.shard(0, 2).toArray()).map(simple)).toEqual(all.filter((_, i) => i % 2 === 0));
    expect((await ds.shard(1, 2).toArray()).map(simple)).toEqual(all.filter((_, i) => i % 2 === 1));
    const three = datasets.webdataset(shardFiles.slice(0, 2), silent);
    const shares = await Promise.all([0, 1, 2].map(async (r) => (await three.shard(r, 3).toArray()).map((x) => x.id)));
    expect(shares.flat().sort()).toEqual(expectedItems([0, 1]).map((x) => x.id).sort());
    expect(shares[0]).toEqual(expectedItems([0, 1]).map((x) => x.id).filter((_, i) => i % 3 === 0));
  });

  it('a buffered shuffle passes the split on: ranks still get whole files, disjoint, together everything', async () => {
    const ds = datasets.webdataset(shardFiles, silent);
    for (const epoch of [0, 1]) {
      const shares = await Promise.all([0, 1].map(async (r) =>
        (await ds.shuffle({ seed: 3, buffer_size: 4 }).shard(r, 2).toArray({ epoch })).map((x) => x.id)));
      expect([...shares[0]!].sort()).toEqual(expectedItems([0, 2]).map((x) => x.id).sort());
      expect([...shares[1]!].sort()).toEqual(expectedItems([1, 3]).map((x) => x.id).sort());
      expect(shares[0]).not.toEqual(expectedItems([0, 2]).map((x) => x.id)); // shuffled within the rank
    }
    // Filter and split over the source pass it on too.
    const { train, test } = ds.split({ test_size: 0.5, seed: 1 });
    const trainIds = (await train.shard(0, 2).toArray()).map((x) => x.id);
    expect(trainIds.every((id) => id.startsWith('shard-00000/') || id.startsWith('shard-00002/'))).toBe(true);
    expect([...trainIds, ...(await test.shard(0, 2).toArray()).map((x) => x.id)].sort()).toEqual(expectedItems([0, 2]).map((x) => x.id).sort());
  });

  it('shuffleShards: a seeded shard order per epoch, the same on every call', async () => {
    const ds = datasets.webdataset(shardFiles, { ...silent, shuffleShards: true, shardSeed: 5 });
    const orders = await Promise.all([0, 1, 2, 3].map(async (epoch) => {
      const ids = (await ds.toArray({ epoch })).map((x) => x.id);
      return [...new Set(ids.map((id) => id.split('/')[0]))];
    }));
    for (const o of orders) expect([...o].sort()).toEqual(['shard-00000', 'shard-00001', 'shard-00002', 'shard-00003']);
    expect(new Set(orders.map((o) => o.join())).size).toBeGreaterThan(1);
    expect((await ds.toArray({ epoch: 2 })).map((x) => x.id)).toEqual((await ds.toArray({ epoch: 2 })).map((x) => x.id));
    const plain = (await datasets.webdataset(shardFiles, silent).toArray()).map((x) => x.id.split('/')[0]);
    expect([...new Set(plain)]).toEqual(['shard-00000', 'shard-00001', 'shard-00002', 'shard-00003']);
  });
});

describe('datasets.webdataset: resume', () => {
  /** A copy of the shards in their own folder, so a test can delete the ones a resume must not read. */
  function copyShards(name: string): string[] {
    const sub = path.join(dir, name);
    mkdirSync(sub, { recursive: true });
    return shardFiles.map((f) => {
      const to = path.join(sub, path.basename(f));
      copyFileSync(f, to);
      return to;
    });
  }

  for (const shuffleShards of [false, true]) {
    it(`a loader state mid-shard resumes with exactly the batches that followed, without reading earlier shards${shuffleShards ? ' (shuffleShards)' : ''}`, async () => {
      const files = copyShards(`resume-${shuffleShards}`);
      const make = (): ReturnType<typeof datasets.webdataset> => datasets.webdataset(files, { ...silent, shuffleShards, shardSeed: 9 });
      const epoch = 1;
      const full = (await collect(make().batches(loaderOptions({ epoch })))).map(batchKey);
      expect(full).toHaveLength(7); // 20 items / 3

      const first = make().batches(loaderOptions({ epoch }));
      const it1 = first[Symbol.asyncIterator]();
      for (let i = 0; i < 4; i++) await it1.next(); // 12 items: mid third shard (5 per shard)
      const state = JSON.parse(JSON.stringify(first.state())) as LoaderState;
      await it1.return?.();
      expect(state.index).toBe(12);
      expect(state.cursor).toMatchObject({ webdataset: 1, position: 12, shard: 2, skip: 2 });

      // The first two shards of this epoch's order may not be read again: delete them.
      const order = [...new Set((await make().toArray({ epoch })).map((x) => x.id.split('/')[0]))];
      for (const name of order.slice(0, 2)) rmSync(files.find((f) => path.basename(f, '.tar') === name)!);

      const resumed = make().batches(loaderOptions({ resumeFrom: state }));
      expect((await collect(resumed)).map(batchKey)).toEqual(full.slice(4));
      expect(resumed.epoch).toBe(epoch + 1);
    });
  }

  it("captionSampling 'all' carry and a map over the source keep the cursor; a state without one still resumes by reading", async () => {
    const ds = datasets.webdataset(shardFiles, silent).map((x) => ({ ...x, captions: [...x.captions, `${x.captions[0]} again`] }));
    const o = loaderOptions({ captionSampling: 'all', batch_size: 5 });
    const full = (await collect(ds.batches(o))).map(batchKey);
    const first = ds.batches(o);
    const it1 = first[Symbol.asyncIterator]();
    for (let i = 0; i < 3; i++) await it1.next(); // 15 rows: item 7 half done
    const state = first.state();
    await it1.return?.();
    expect(state.carry).toBe(1);
    expect(state.cursor).toMatchObject({ position: 7, shard: 1, skip: 2 });
    expect((await collect(ds.batches({ ...o, resumeFrom: state }))).map(batchKey)).toEqual(full.slice(3));
    const { cursor: _, ...noCursor } = state;
    expect((await collect(datasets.webdataset(shardFiles, silent).map((x) => ({ ...x, captions: [...x.captions, `${x.captions[0]} again`] }))
      .batches({ ...o, resumeFrom: noCursor }))).map(batchKey)).toEqual(full.slice(3));
  });

  it("resumes a rank's share of whole files (under a map) from its cursor", async () => {
    const files = copyShards('resume-rank');
    const make = (): ReturnType<typeof datasets.webdataset> => datasets.webdataset(files, silent).map((x) => ({ ...x, rank: 1 })).shard(1, 2);
    const full = (await collect(make().batches(loaderOptions()))).map(batchKey);
    const first = make().batches(loaderOptions());
    const it1 = first[Symbol.asyncIterator]();
    for (let i = 0; i < 2; i++) await it1.next(); // 6 items: rank 1 reads shard 1 then shard 3
    const state = JSON.parse(JSON.stringify(first.state())) as LoaderState;
    await it1.return?.();
    expect(state.cursor).toMatchObject({ shard: 1, skip: 1, url: files[3] });
    rmSync(files[1]!);
    expect((await collect(make().batches(loaderOptions({ resumeFrom: state })))).map(batchKey)).toEqual(full.slice(2));
  });

  it('refuses a cursor of another shard list', async () => {
    const first = datasets.webdataset(shardFiles, silent).batches(loaderOptions());
    const it1 = first[Symbol.asyncIterator]();
    for (let i = 0; i < 3; i++) await it1.next();
    const state = first.state();
    await it1.return?.();
    const other = datasets.webdataset([shardFiles[1]!, shardFiles[0]!, shardFiles[2]!, shardFiles[3]!], silent);
    await expect(collect(other.batches(loaderOptions({ resumeFrom: state })))).rejects.toThrow(/same urls, shuffleShards, shardSeed and rank\/world/);
  });
});

describe('datasets.webdataset: http(s)', () => {
  let server: Server;
  let base: string;
  const requests: string[] = [];
  /** Bytes of /big.tar the server has read from disk (it pipes the file: reads stop when the socket is full). */
  let bigSent = 0;
  beforeAll(async () => {
    server = createServer((req, res) => {
      requests.push(req.url ?? '');
      if (req.url === '/big.tar') {
        const file = createReadStream(path.join(dir, 'big.tar'));
        file.on('data', (chunk) => { bigSent += chunk.length; });
        file.pipe(res);
        res.on('close', () => file.destroy());
        return;
      }
      const file = path.join(dir, path.basename(req.url ?? ''));
      let body: Buffer;
      try {
        body = readFileSync(file);
      } catch {
        res.writeHead(404).end('not found');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/x-tar' });
      // In small writes, so the tar parser sees the body arrive in pieces.
      let off = 0;
      const step = (): void => {
        if (off >= body.length) {
          res.end();
          return;
        }
        res.write(body.subarray(off, off + 700), step);
        off += 700;
      };
      step();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('streams shards from http URLs (brace patterns too) as it does local files', async () => {
    const ds = datasets.webdataset(`${base}/shard-{00000..00003}.tar`, silent);
    expect((await ds.toArray()).map(simple)).toEqual(expectedItems([0, 1, 2, 3]));
    requests.length = 0;
    expect((await ds.shard(1, 2).toArray({ limit: 2 })).map((x) => x.id)).toEqual(expectedItems([1]).slice(0, 2).map((x) => x.id));
    expect(requests).toEqual(['/shard-00001.tar']); // stopping early opens no further shard
  });

  it('applies back-pressure: a consumer that holds on to a sample stops the download (memory stays bounded)', async () => {
    const big = 48 * 1024 * 1024;
    writeFileSync(path.join(dir, 'big.tar'), await packTar([['a.jpg', colors[0]!], ['a.txt', 'small'], ['b.jpg', Buffer.alloc(big)], ['b.txt', 'huge']]));
    const ds = datasets.webdataset(`${base}/big.tar`, silent);
    const iterator = ds.items();
    const first = await iterator.next(); // yielded once b.jpg's header is seen, with b.jpg unread
    expect(first.value?.id).toBe('big/a');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(bigSent).toBeLessThan(big / 2); // socket and stream buffers only
    await iterator.return(undefined);
    rmSync(path.join(dir, 'big.tar'));
  });

  it('an HTTP error status is a FormatError naming the URL, or a counted missing_shard', async () => {
    const url = `${base}/missing-shard.tar`;
    const err = await datasets.webdataset(url, silent).toArray().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FormatError);
    expect((err as Error).message).toMatch(new RegExp(`${url.replace(/[.]/g, '\\.')} answered HTTP 404.*headers option.*skipMissingShards`));
    const items = await datasets.webdataset([url, `${base}/shard-00000.tar`], { ...silent, skipMissingShards: true }).toArray();
    expect(items.map((x) => x.error ?? 'ok')).toEqual(['missing_shard', 'ok', 'ok', 'ok', 'ok', 'ok']);
  });
});

describe('datasets.webdataset: CLI specs', () => {
  it('reads {type: webdataset, urls} and takes .tar paths and brace patterns as webdatasets', async () => {
    const ds = datasetFromSpec({ type: 'webdataset', urls: 'shard-{00000..00001}.tar', skipMissingShards: false }, dir);
    expect((await ds.toArray()).map((x) => x.id)).toEqual(expectedItems([0, 1]).map((x) => x.id));
    expect(parseDataArgument('shards/{000..009}.tar', '/data').spec).toEqual({ type: 'webdataset', urls: '/data/shards/{000..009}.tar' });
    expect(parseDataArgument(shardFiles[0]!).spec).toEqual({ type: 'webdataset', urls: shardFiles[0] });
    expect(parseDataArgument('https://host/x/{0..3}.tar').spec).toEqual({ type: 'webdataset', urls: 'https://host/x/{0..3}.tar' });
    expect(() => datasetFromSpec({ type: 'webdataset', urls: [] }, dir)).toThrow(InvalidArgumentError);
  });
});

describe('datasets.webdataset: properties', () => {
  const sampleArb = fc.record({
    caption: fc.string({ minLength: 1, maxLength: 30 }).map((s) => s.trim()).filter((s) => s.length > 0),
    image: fc.uint8Array({ minLength: 1, maxLength: 600 }),
    json: fc.boolean(),
  });

  it('random samples written to random shard splits round-trip exactly (property)', async () => {
    const sub = path.join(dir, 'prop');
    mkdirSync(sub, { recursive: true });
    let run = 0;
    await fc.assert(fc.asyncProperty(fc.array(sampleArb, { maxLength: 12 }), fc.array(fc.nat(12), { maxLength: 4 }), async (raw, cuts) => {
      run++;
      const samples: Sample[] = raw.map((s, i) => ({ key: `k${i}`, image: Buffer.from(s.image), caption: s.caption, json: s.json }));
      // Shard boundaries at the sorted cuts (equal cuts make empty shards).
      const bounds = [0, ...cuts.map((c) => Math.min(c, samples.length)).sort((a, b) => a - b), samples.length];
      const files = await Promise.all(bounds.slice(1).map((end, s) =>
        writeShard(path.join(sub, `r${run}-${s}.tar`), samples.slice(bounds[s], end))));
      const items = await datasets.webdataset(files, silent).toArray();
      expect(items.map((x) => ({ key: x.id.split('/')[1], caption: x.captions, image: Buffer.from(x.image as Uint8Array).toString('hex') })))
        .toEqual(samples.map((s) => ({ key: s.key, caption: [s.caption], image: s.image.toString('hex') })));
    }), { numRuns: 40 });
  });

  const KNOWN_ERRORS = new Set(['corrupt_shard', 'missing_image', 'missing_caption', 'bad_caption_json', 'too_large']);

  /** Read a shard to the end within a time bound; every outcome must be a well-formed item or a documented skip. */
  async function readBounded(file: string): Promise<DataItem[]> {
    const read = datasets.webdataset(file, { ...silent, maxMemberBytes: 1 << 16 }).toArray();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('hang: no end within 5 s')), 5000);
    });
    try {
      return await Promise.race([read, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  it('fuzz: random, truncated and bit-flipped tar bytes end in items or counted skips, never a throw or a hang (property)', async () => {
    const sub = path.join(dir, 'fuzz');
    mkdirSync(sub, { recursive: true });
    const seedTar = await packTar([...members(allSamples[0]!.slice(0, 3)), ['x.json', '{"caption": "c"}'], ['x.png', colors[1]!]]);
    const mutation = fc.oneof(
      fc.uint8Array({ maxLength: 3000 }).map((bytes) => Buffer.from(bytes)),
      fc.nat(seedTar.length).map((n) => seedTar.subarray(0, n)),
      fc.array(fc.tuple(fc.nat(seedTar.length - 1), fc.nat(7)), { minLength: 1, maxLength: 8 }).map((flips) => {
        const b = Buffer.from(seedTar);
        for (const [at, bit] of flips) b[at]! ^= 1 << bit;
        return b;
      }),
      fc.tuple(fc.nat(seedTar.length - 1), fc.uint8Array({ minLength: 1, maxLength: 600 })).map(([at, junk]) => {
        const b = Buffer.from(seedTar);
        b.set(junk.subarray(0, b.length - at), at);
        return b;
      }),
    );
    let run = 0;
    const outcomes: Record<string, number> = {};
    await fc.assert(fc.asyncProperty(mutation, async (bytes) => {
      const file = path.join(sub, `f${run++ % 4}.tar`);
      writeFileSync(file, bytes);
      const items = await readBounded(file);
      for (const x of items) {
        expect(typeof x.id).toBe('string');
        if (x.error !== undefined) expect(KNOWN_ERRORS).toContain(x.error);
        else {
          expect(Buffer.isBuffer(x.image)).toBe(true);
          expect(Array.isArray(x.captions) && x.captions.every((c) => typeof c === 'string')).toBe(true);
        }
      }
      expect(items.filter((x) => x.error === 'corrupt_shard').length).toBeLessThanOrEqual(1);
      for (const x of items) outcomes[x.error ?? 'ok'] = (outcomes[x.error ?? 'ok'] ?? 0) + 1;
    }), { numRuns: 300 });
    // The inputs reach both ends: intact samples and broken shards.
    expect(outcomes.ok).toBeGreaterThan(0);
    expect(outcomes.corrupt_shard).toBeGreaterThan(0);
  });
});
