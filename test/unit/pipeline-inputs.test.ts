// pipeline('image-to-text') inputs and outputs as Hugging Face's ImageToTextPipeline: http(s) URLs (fetched from a
// loopback server: a PNG, a 404, an oversized body, a slow endpoint), generate_kwargs, one list per image with
// num_return_sequences > 1, and per-image errors ('return') or the first failure naming its input ('throw').
import { afterAll, beforeAll, describe, expect, expectTypeOf, it, vi } from 'vitest';
import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describeWithFixtures } from '../helpers/fixtures.js';
import {
  pipeline, type ImageToTextFailure, type ImageToTextOutput, type ImageToTextPipeline,
} from '../../lib/pipeline.js';
import { fetchImage, isImageUrl, resolveImageInput, DEFAULT_FETCH_MAX_BYTES } from '../../lib/processing/fetch-image.js';
import { FetchError, FormatError, InvalidArgumentError, TorchCaptionError } from '../../lib/errors.js';
import type { RawImage } from '../../lib/types.js';

/** A 40x30 RGB gradient PNG (lossless: its raw pixels caption the same as the file). */
async function makePng(): Promise<{ png: Buffer; raw: RawImage }> {
  const w = 40;
  const h = 30;
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      data[i] = (x * 6) & 255;
      data[i + 1] = (y * 8) & 255;
      data[i + 2] = ((x + y) * 3) & 255;
    }
  }
  const png = await sharp(data, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
  return { png, raw: { data, width: w, height: h, channels: 3 } };
}

interface Loopback {
  server: Server;
  base: string;
  /** Bytes the /huge handler managed to write before the client dropped the connection. */
  hugeWritten: () => number;
  hugeClosed: () => Promise<void>;
  files: Map<string, Buffer>;
}

const CHUNK = 64 * 1024;
const HUGE_TOTAL = 256 * 1024 * 1024; // what /huge would send if nobody stopped reading

async function startLoopback(): Promise<Loopback> {
  const files = new Map<string, Buffer>();
  let written = 0;
  let closed: () => void = () => undefined;
  let hugeDone = new Promise<void>((r) => (closed = r));
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const file = files.get(path);
    if (file) {
      res.writeHead(200, { 'Content-Type': 'image/png', 'Content-Length': file.length });
      res.end(file);
      return;
    }
    if (path === '/huge') {
      // Chunked (no Content-Length): only the byte count while streaming can stop it. Bounded by HUGE_TOTAL.
      written = 0;
      hugeDone = new Promise<void>((r) => (closed = r));
      res.writeHead(200, { 'Content-Type': 'image/png' });
      const chunk = Buffer.alloc(CHUNK, 7);
      res.on('close', () => closed());
      const pump = (): void => {
        while (!res.destroyed && written < HUGE_TOTAL) {
          written += CHUNK;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        if (!res.destroyed) res.end();
      };
      pump();
      return;
    }
    if (path === '/declared-huge') {
      res.writeHead(200, { 'Content-Type': 'image/png', 'Content-Length': String(1024 * 1024 * 1024) });
      res.write(Buffer.alloc(16));
      return; // never finishes; the client must not wait for it
    }
    if (path === '/slow') {
      res.writeHead(200, { 'Content-Type': 'image/png' });
      res.write(Buffer.alloc(8));
      const t = setTimeout(() => res.end(), 20_000); // far beyond the tests' timeouts; cleared on close
      res.on('close', () => clearTimeout(t));
      return;
    }
    if (path === '/redirect') {
      res.writeHead(302, { Location: '/img.png' });
      res.end();
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, base: `http://127.0.0.1:${port}`, hugeWritten: () => written, hugeClosed: () => hugeDone, files };
}

async function stopLoopback(lb: Loopback | undefined): Promise<void> {
  if (!lb) return;
  lb.server.closeAllConnections();
  await new Promise<void>((resolve) => lb.server.close(() => resolve()));
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected the promise to reject');
}

describe('fetchImage (loopback server)', () => {
  let lb: Loopback;
  let png: Buffer;
  beforeAll(async () => {
    lb = await startLoopback();
    png = (await makePng()).png;
    lb.files.set('/img.png', png);
  });
  afterAll(() => stopLoopback(lb));

  it('fetches the bytes of a 200 response, following redirects', async () => {
    expect(await fetchImage(`${lb.base}/img.png`)).toEqual(png);
    expect(await fetchImage(`${lb.base}/redirect`)).toEqual(png);
    expect(await resolveImageInput(`${lb.base}/img.png`)).toEqual(png);
    expect(await resolveImageInput('/some/path.png')).toBe('/some/path.png');
    expect(isImageUrl('HTTPS://x/y.png')).toBe(true);
    expect(isImageUrl('/tmp/http://x')).toBe(false);
    expect(DEFAULT_FETCH_MAX_BYTES).toBe(20 * 1024 * 1024);
  });

  it('a 404 is a FetchError naming the URL, the status and a hint', async () => {
    const err = await rejection(fetchImage(`${lb.base}/missing.png`));
    expect(err).toBeInstanceOf(FetchError);
    const e = err as FetchError;
    expect(e).toMatchObject({ code: 'http-status', status: 404, url: `${lb.base}/missing.png` });
    expect(e.message).toContain(`${lb.base}/missing.png`);
    expect(e.message).toMatch(/HTTP 404 Not Found; check the URL/);
  });

  it('an oversized streamed body is aborted as soon as it passes maxBytes, without reading the rest', async () => {
    const t0 = performance.now();
    const err = await rejection(fetchImage(`${lb.base}/huge`, { maxBytes: 256 * 1024 }));
    expect(err).toBeInstanceOf(FetchError);
    expect((err as FetchError).code).toBe('too-large');
    expect((err as FetchError).message).toMatch(/over the limit of 262144 bytes \(maxBytes\)/);
    await lb.hugeClosed(); // the server sees the connection dropped
    // What the server got out before it noticed: socket buffers' worth, far from the 256 MiB it would send.
    expect(lb.hugeWritten()).toBeLessThan(16 * 1024 * 1024);
    expect(performance.now() - t0).toBeLessThan(10_000);
  });

  it('a Content-Length over the limit is refused before the body is read', async () => {
    const err = await rejection(fetchImage(`${lb.base}/declared-huge`));
    expect(err).toBeInstanceOf(FetchError);
    expect((err as FetchError).code).toBe('too-large');
    expect((err as FetchError).message).toMatch(/announces 1024\.0 MiB \(Content-Length\), over the limit of 20\.0 MiB/);
  });

  it('a slow endpoint times out (timeoutMs covers the body too)', async () => {
    const t0 = performance.now();
    const err = await rejection(fetchImage(`${lb.base}/slow`, { timeoutMs: 200 }));
    const took = performance.now() - t0;
    expect(err).toBeInstanceOf(FetchError);
    expect((err as FetchError).code).toBe('timeout');
    expect((err as FetchError).message).toMatch(/no complete response within 200 ms/);
    expect(took).toBeGreaterThanOrEqual(150);
    expect(took).toBeLessThan(5_000);
  });

  it('a refused connection is a network FetchError; an abort signal stops the download', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const err = await rejection(fetchImage(`http://127.0.0.1:${port}/x.png`, { timeoutMs: 5_000 }));
    expect(err).toBeInstanceOf(FetchError);
    expect((err as FetchError).code).toBe('network');
    expect((err as FetchError).message).toMatch(/ECONNREFUSED.*check the host and port/);

    const ac = new AbortController();
    const p = fetchImage(`${lb.base}/slow`, { signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    expect(await rejection(p)).toMatchObject({ code: 'aborted' });
    expect(await rejection(fetchImage(`${lb.base}/img.png`, { signal: AbortSignal.abort() }))).toMatchObject({ code: 'aborted' });
  });

  it('bad options and non-http URLs are InvalidArgumentErrors naming the key', async () => {
    await expect(fetchImage(`${lb.base}/img.png`, { maxBytes: 0 })).rejects.toThrow(/fetch\.maxBytes/);
    await expect(fetchImage(`${lb.base}/img.png`, { timeoutMs: -1 })).rejects.toThrow(/fetch\.timeoutMs/);
    await expect(fetchImage(`${lb.base}/img.png`, { maxbytes: 1 } as never)).rejects.toThrow(/Unknown fetch option 'maxbytes'/);
    await expect(fetchImage('ftp://127.0.0.1/x.png')).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(fetchImage('http://')).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});

describeWithFixtures('pipeline image-to-text: inputs, generate_kwargs, output shape, per-image errors', (fixtures) => {
  const dir = join(fixtures, 'models', 'vit-gpt2-tiny');
  const img = (f: string): string => join(fixtures, 'images', f);
  let lb: Loopback;
  let captioner: ImageToTextPipeline;
  let png: Buffer;
  let raw: RawImage;
  const flower = img('flower.jpg');
  const china = img('china.jpg');
  const gray = img('gray.jpg');

  beforeAll(async () => {
    lb = await startLoopback();
    ({ png, raw } = await makePng());
    lb.files.set('/img.png', png);
    lb.files.set('/flower.jpg', readFileSync(flower));
    captioner = await pipeline('image-to-text', dir);
  });
  afterAll(() => stopLoopback(lb));

  const texts = (out: readonly ImageToTextOutput[]): string[] => out.map((o) => o.generated_text);

  it('a URL captions as its path, its Buffer and its raw pixels do, token for token', async () => {
    const fromUrl = await captioner([`${lb.base}/flower.jpg`, `${lb.base}/img.png`], { num_beams: 2, max_length: 12 });
    const fromLocal = await captioner([flower, png], { num_beams: 2, max_length: 12 });
    const fromBytes = await captioner([readFileSync(flower), raw], { num_beams: 2, max_length: 12 });
    expect(fromUrl).toEqual(fromLocal);
    expect(fromBytes).toEqual(fromLocal);
    expect(await captioner(`${lb.base}/img.png`)).toEqual(await captioner(raw));
    // the tokens themselves: the fetched bytes give the pixels and sequences the path gives
    const fetched = await fetchImage(`${lb.base}/flower.jpg`);
    const a = await captioner.model.generate(await captioner.imageProcessor.preprocess(fetched), { num_beams: 2, max_length: 12 });
    const b = await captioner.model.generate(await captioner.imageProcessor.preprocess(flower), { num_beams: 2, max_length: 12 });
    expect(a.sequences).toEqual(b.sequences);
    expect(fromUrl[0]!.generated_text).toBe(captioner.tokenizer.decode(b.sequences[0]!, { skip_special_tokens: true }).trim());
  });

  it('generate_kwargs equal the flat options; max_new_tokens at the top level as HF takes it', async () => {
    const images = [flower, china, gray];
    const flat = await captioner(images, { num_beams: 3, max_length: 12 });
    expect(await captioner(images, { generate_kwargs: { num_beams: 3, max_length: 12 } })).toEqual(flat);
    expect(await captioner(images, { num_beams: 3, generate_kwargs: { max_length: 12 } })).toEqual(flat);
    const six = await captioner(images, { max_length: 6 });
    expect(await captioner(images, { max_new_tokens: 5 })).toEqual(six);
    expect(await captioner(images, { generate_kwargs: { max_new_tokens: 5 } })).toEqual(six);
  });

  it('unknown or doubled options are InvalidArgumentErrors naming the key, before any image is read', async () => {
    const generate = vi.spyOn(captioner.model, 'generate');
    try {
      await expect(captioner(flower, { beams: 2 } as never)).rejects.toThrow(/Unknown image-to-text option 'beams'/);
      await expect(captioner(flower, { generate_kwargs: { num_beam: 2 } as never })).rejects.toThrow(/Unknown generation option 'num_beam' in generate_kwargs; did you mean 'num_beams'\?/);
      await expect(captioner(flower, { max_new_tokens: 3, generate_kwargs: { max_new_tokens: 4 } })).rejects.toThrow(/'max_new_tokens' is given both/);
      await expect(captioner(flower, { errors: 'ignore' as never })).rejects.toThrow(/errors/);
      await expect(captioner(flower, { batch_size: 0 })).rejects.toThrow(/batch_size/);
      await expect(captioner(flower, { timeout: 0 })).rejects.toThrow(/timeout/);
      await expect(captioner(flower, { timeout: 1, fetch: { timeoutMs: 10 } })).rejects.toThrow(/both given/);
      await expect(captioner(flower, { generate_kwargs: [] as never })).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(captioner([flower, 42 as never])).rejects.toThrow(/inputs\[1\]/);
      expect(generate).not.toHaveBeenCalled();
    } finally {
      generate.mockRestore();
    }
  });

  it('num_return_sequences 2 with beams: one list per image (a single image: its list)', async () => {
    const images = [flower, china, gray];
    const out = await captioner(images, { num_beams: 3, num_return_sequences: 2, max_length: 10, batch_size: 2 });
    expectTypeOf(out).toEqualTypeOf<ImageToTextOutput[][]>();
    expect(out).toHaveLength(3);
    const { sequences } = await captioner.model.generate(await captioner.imageProcessor.preprocess(images), { num_beams: 3, num_return_sequences: 2, max_length: 10 });
    const decoded = sequences.map((s) => captioner.tokenizer.decode(s, { skip_special_tokens: true }).trim());
    expect(out.map(texts)).toEqual([decoded.slice(0, 2), decoded.slice(2, 4), decoded.slice(4, 6)]);
    expect(await captioner(images, { generate_kwargs: { num_beams: 3, num_return_sequences: 2, max_length: 10 } })).toEqual(out);
    const one = await captioner(china, { num_beams: 3, num_return_sequences: 2, max_length: 10 });
    expectTypeOf(one).toEqualTypeOf<ImageToTextOutput[]>();
    expect(one).toEqual(out[1]);
    // num_return_sequences 1 keeps the flat list: each image's best
    const flat = await captioner(images, { num_beams: 3, num_return_sequences: 1, max_length: 10 });
    expectTypeOf(flat).toEqualTypeOf<ImageToTextOutput[]>();
    expect(texts(flat)).toEqual(out.map((o) => o[0]!.generated_text));
  });

  it("errors 'return': a bad image gets its own typed error entry, the others equal the all-good run in the same batches", async () => {
    const truncated = readFileSync(flower).subarray(0, 300);
    const inputs = [flower, truncated, `${lb.base}/img.png`, `${lb.base}/gone.png`, join(fixtures, 'images', 'no-such.jpg'), china, raw];
    const good = [flower, `${lb.base}/img.png`, china, raw];
    const allGood = await captioner(good, { num_beams: 2, max_length: 10 });
    const generate = vi.spyOn(captioner.model, 'generate');
    let out: (ImageToTextOutput | ImageToTextFailure)[];
    try {
      out = await captioner(inputs, { num_beams: 2, max_length: 10, batch_size: 4, errors: 'return' });
      // batches [0..3] and [4..6]: their good images (0, 2 and 5, 6) generated together, the bad ones left out
      expect(generate.mock.calls.map(([pixels]) => pixels.shape[0])).toEqual([2, 2]);
    } finally {
      generate.mockRestore();
    }
    expectTypeOf(out).toEqualTypeOf<(ImageToTextOutput | ImageToTextFailure)[]>();
    expect(out).toHaveLength(7);
    expect([out[0], out[2], out[5], out[6]]).toEqual(allGood);
    const err = (i: number): TorchCaptionError => {
      const o = out[i]!;
      if (!('error' in o)) throw new Error(`inputs[${i}] was captioned`);
      return o.error;
    };
    expect(err(1)).toBeInstanceOf(FormatError);
    expect(err(1).message).toMatch(/^Cannot decode image inputs\[1\] \(Buffer of 300 bytes\): /);
    expect(err(3)).toBeInstanceOf(FetchError);
    expect(err(3)).toMatchObject({ code: 'http-status', status: 404 });
    expect(err(3).message).toBe(`inputs[3]: Cannot fetch image ${lb.base}/gone.png: HTTP 404 Not Found; check the URL`);
    expect(err(4)).toBeInstanceOf(InvalidArgumentError);
    expect(err(4).message).toMatch(/^inputs\[4\]: .*no-such\.jpg.*ENOENT/);

    // with several sequences the failed image's list is [{ error }]
    const nested = await captioner([truncated, china], { num_beams: 2, num_return_sequences: 2, max_length: 10, errors: 'return' });
    expectTypeOf(nested).toEqualTypeOf<(ImageToTextOutput[] | [ImageToTextFailure])[]>();
    expect(nested[0]).toHaveLength(1);
    expect(nested[0]![0]).toHaveProperty('error');
    expect(nested[1]).toHaveLength(2);
    const single = await captioner(truncated, { errors: 'return' });
    expectTypeOf(single).toEqualTypeOf<ImageToTextOutput[] | [ImageToTextFailure]>();
    expect((single[0] as ImageToTextFailure).error).toBeInstanceOf(FormatError);
    // a URL that fetches but does not decode is named by its URL
    lb.files.set('/broken.jpg', truncated);
    const [broken] = await captioner(`${lb.base}/broken.jpg`, { errors: 'return' });
    expect((broken as ImageToTextFailure).error.message).toMatch(new RegExp(`^inputs\\[0\\]: Cannot decode image ${lb.base}/broken\\.jpg: `));
  });

  it("errors 'throw' (the default): the first bad image rejects the call with its typed error, naming its index and path or URL", async () => {
    const truncated = readFileSync(flower).subarray(0, 300);
    const e1 = await rejection(captioner([flower, china, truncated, `${lb.base}/gone.png`], { batch_size: 2 }));
    expect(e1).toBeInstanceOf(FormatError);
    expect((e1 as Error).message).toMatch(/inputs\[2\] \(Buffer of 300 bytes\)/);
    expect((e1 as Error).cause).toBeInstanceOf(FormatError);
    const e2 = await rejection(captioner([flower, `${lb.base}/gone.png`, truncated], { errors: 'throw' }));
    expect(e2).toBeInstanceOf(FetchError);
    expect((e2 as Error).message).toBe(`inputs[1]: Cannot fetch image ${lb.base}/gone.png: HTTP 404 Not Found; check the URL`);
    const e3 = await rejection(captioner([flower, img('no-such.jpg')]));
    expect((e3 as Error).message).toMatch(/^inputs\[1\]: .*no-such\.jpg/);
  });

  it("HF's timeout (seconds) bounds a URL download", async () => {
    const t0 = performance.now();
    const err = await rejection(captioner(`${lb.base}/slow`, { timeout: 0.2 }));
    expect(err).toBeInstanceOf(FetchError);
    expect((err as FetchError).code).toBe('timeout');
    expect(performance.now() - t0).toBeLessThan(5_000);
    const [entry] = await captioner([`${lb.base}/huge`], { errors: 'return', fetch: { maxBytes: 100_000 } });
    expect((entry as ImageToTextFailure).error).toMatchObject({ code: 'too-large' });
  });

  it('the flat output types: no options, flat options, and a num_return_sequences only known as a number', () => {
    // compile-time only
    const p = captioner;
    expectTypeOf<Awaited<ReturnType<typeof run>>>().toEqualTypeOf<ImageToTextOutput[]>();
    async function run() {
      return p([flower, china]);
    }
    const n: number = 2;
    const either = async () => p([flower], { num_return_sequences: n });
    expectTypeOf<Awaited<ReturnType<typeof either>>>().toEqualTypeOf<ImageToTextOutput[] | ImageToTextOutput[][]>();
    const kwargs = async () => p([flower], { generate_kwargs: { num_beams: 2, num_return_sequences: 2 } });
    expectTypeOf<Awaited<ReturnType<typeof kwargs>>>().toEqualTypeOf<ImageToTextOutput[][]>();
    const maybe = async () => p([flower], { num_beams: 2, num_return_sequences: n > 1 ? 2 : undefined, errors: 'return' });
    expectTypeOf<Awaited<ReturnType<typeof maybe>>>().toEqualTypeOf<(ImageToTextOutput | ImageToTextFailure)[] | (ImageToTextOutput[] | [ImageToTextFailure])[]>();
    const opts: { errors: 'throw' | 'return' } = { errors: 'return' };
    const mixed = async () => p(flower, opts);
    expectTypeOf<Awaited<ReturnType<typeof mixed>>>().toEqualTypeOf<ImageToTextOutput[] | [ImageToTextFailure]>();
  });

  it('torch-caption caption takes an http(s) URL (dist/ built)', async () => {
    const bin = join(__dirname, '..', '..', 'bin', 'torch-caption.js');
    const run = (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
      new Promise((resolve) => {
        execFile(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000 }, (err, stdout, stderr) => {
          resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
        });
      });
    const url = `${lb.base}/flower.jpg`;
    const r = await run('caption', '--model', dir, '--json', url, flower, `${lb.base}/gone.png`);
    expect(r.code, r.stderr).toBe(1);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { image: string; caption: string });
    expect(lines.map((l) => l.image)).toEqual([url, flower]);
    expect(lines[0]!.caption).toBe(lines[1]!.caption);
    expect(lines[0]!.caption).toBe((await captioner(flower))[0]!.generated_text);
    expect(r.stderr.trim()).toBe(`torch-caption: skipped ${lb.base}/gone.png: cannot fetch: HTTP 404 Not Found; check the URL`);
  });
});
