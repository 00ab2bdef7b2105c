// The caption HTTP server, in process on a loopback port with the fixture model.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeWithFixtures } from '../helpers/fixtures.js';
import { Captioner } from '../../lib/serve/captioner.js';
import { CaptionServer } from '../../lib/serve/server.js';
import { multipartBoundary, parseMultipart, MultipartError } from '../../lib/serve/multipart.js';
import { pipeline, type ImageToTextPipeline } from '../../lib/pipeline.js';
import type { GenerateOptions } from '../../lib/models/generation.js';

/** Poll until cond() holds, at most timeoutMs. */
async function waitFor(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('waitFor: condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A raw node:http request (fetch cannot send a chunked body of a chosen size without a stream). */
function rawPost(url: string, chunks: Buffer[], headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'Content-Type': 'image/jpeg', ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    for (const c of chunks) req.write(c);
    req.end();
  });
}

describe('multipart parser', () => {
  it('splits fields and files, and names what is wrong', () => {
    const b = 'XyZ';
    const body = Buffer.concat([
      Buffer.from(`preamble\r\n--${b}\r\nContent-Disposition: form-data; name="options"\r\n\r\n{"num_beams":2}\r\n`),
      Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="image"; filename="a \\"b\\".jpg"\r\nContent-Type: image/jpeg\r\n\r\n`),
      Buffer.from([0xff, 0xd8, 0x0d, 0x0a, 0x2d, 0x2d, 0x00]),
      Buffer.from(`\r\n--${b}--\r\n`),
    ]);
    expect(multipartBoundary(`multipart/form-data; boundary="${b}"`)).toBe(b);
    expect(multipartBoundary('image/png')).toBeNull();
    const parts = parseMultipart(body, b);
    expect(parts.map((p) => p.name)).toEqual(['options', 'image']);
    expect(parts[0]!.data.toString()).toBe('{"num_beams":2}');
    expect(parts[1]).toMatchObject({ filename: 'a "b".jpg', contentType: 'image/jpeg' });
    expect([...parts[1]!.data]).toEqual([0xff, 0xd8, 0x0d, 0x0a, 0x2d, 0x2d, 0x00]);
    expect(() => parseMultipart(body.subarray(0, body.length - 12), b)).toThrow(MultipartError);
    expect(() => parseMultipart(Buffer.from('nothing here'), b)).toThrow(/boundary/);
    expect(() => multipartBoundary('multipart/form-data')).toThrow(MultipartError);
  });
});

describeWithFixtures('caption server', (fixtures) => {
  const dir = join(fixtures, 'models', 'vit-gpt2-tiny');
  const files = ['china.jpg', 'flower.jpg', 'gray.jpg', 'cmyk.jpg'].map((f) => join(fixtures, 'images', f));
  const bytes = files.map((f) => readFileSync(f));
  let pipe: ImageToTextPipeline;
  let server: CaptionServer;
  let url: string;

  beforeAll(async () => {
    pipe = await pipeline('image-to-text', dir);
    const captioner = Captioner.fromPipeline(pipe, { maxBatchSize: 16, maxWaitMs: 50, name: 'vit-gpt2-tiny' });
    server = new CaptionServer(captioner, { maxBodyBytes: 300_000, timeoutMs: 20_000 });
    url = (await server.listen(0)).url;
  });

  afterAll(async () => {
    await server?.close();
  });

  /** What the library gives for one image alone. */
  async function expected(i: number, options: Partial<GenerateOptions> = {}): Promise<{ generated_text: string; sequences: number[][] }> {
    const [{ generated_text }] = (await pipe(files[i]!, options)) as [{ generated_text: string }];
    const { sequences } = await pipe.model.generate(await pipe.imageProcessor.preprocess(files[i]!), options);
    return { generated_text, sequences };
  }

  const post = (i: number, query = ''): Promise<Response> =>
    fetch(`${url}/caption${query}`, { method: 'POST', headers: { 'Content-Type': 'image/jpeg' }, body: bytes[i]! });

  it('16 concurrent POSTs are batched and return the captions of the library', async () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const before = server.captioner.stats().batches;
    const responses = await Promise.all(Array.from({ length: 16 }, (_, k) => post(k % 4)));
    const bodies = await Promise.all(responses.map((r) => r.json()));
    expect(responses.map((r) => r.status)).toEqual(Array(16).fill(200));
    const refs = await Promise.all([0, 1, 2, 3].map((i) => expected(i)));
    bodies.forEach((b, k) => expect(b).toMatchObject(refs[k % 4]!));
    expect(server.captioner.stats().batches - before).toBeLessThan(16); // some were coalesced
  });

  it('takes options as a JSON query parameter and as a multipart field', async () => {
    const q = await post(1, `?options=${encodeURIComponent(JSON.stringify({ num_beams: 3, max_length: 12 }))}`);
    expect(q.status).toBe(200);
    const ref = await expected(1, { num_beams: 3, max_length: 12 });
    const qb = await q.json();
    expect(qb).toMatchObject(ref);
    expect(qb.sequences_scores).toHaveLength(1);
    const form = new FormData();
    form.append('image', new Blob([bytes[1]!], { type: 'image/jpeg' }), 'flower.jpg');
    form.append('options', JSON.stringify({ num_beams: 3, max_length: 12 }));
    const m = await fetch(`${url}/caption`, { method: 'POST', body: form });
    expect(m.status).toBe(200);
    expect(await m.json()).toMatchObject(ref);
    const two = await (await post(2, `?options=${encodeURIComponent('{"num_beams":2,"num_return_sequences":2}')}`)).json();
    expect(two.sequences).toEqual((await expected(2, { num_beams: 2, num_return_sequences: 2 })).sequences);
    expect(two.generated_texts).toHaveLength(2);
  });

  it('a non-image is 400 with a one-line reason, and does not disturb other requests', async () => {
    const [bad, good, form] = await Promise.all([
      fetch(`${url}/caption`, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: 'hello, not an image' }),
      post(0),
      (() => {
        const f = new FormData();
        f.append('picture', new Blob([bytes[0]!]), 'x.jpg');
        return fetch(`${url}/caption`, { method: 'POST', body: f });
      })(),
    ]);
    expect(bad.status).toBe(400);
    const e = await bad.json();
    expect(e).toMatchObject({ status: 400, type: 'FormatError' });
    expect(e.error).toMatch(/^Cannot decode image/);
    expect(e.error).not.toContain('\n');
    expect(good.status).toBe(200);
    expect(await good.json()).toMatchObject(await expected(0));
    expect(form.status).toBe(400);
    expect((await form.json()).error).toMatch(/multipart field named 'image' but received 'picture'/);
    const empty = await fetch(`${url}/caption`, { method: 'POST', body: '' });
    expect(empty.status).toBe(400);
    const truncated = await fetch(`${url}/caption`, { method: 'POST', body: bytes[1]!.subarray(0, 400) });
    expect(truncated.status).toBe(400);
  });

  it('an oversize body is 413, by Content-Length or while streaming', async () => {
    const big = Buffer.alloc(400_000, 7);
    const r = await fetch(`${url}/caption`, { method: 'POST', headers: { 'Content-Type': 'image/jpeg' }, body: big });
    expect(r.status).toBe(413);
    expect((await r.json()).error).toMatch(/at most 300000 bytes/);
    const chunked = await rawPost(`${url}/caption`, Array.from({ length: 8 }, () => Buffer.alloc(50_000, 1)));
    expect(chunked.status).toBe(413);
    expect((await post(0)).status).toBe(200); // still serving
  });

  it('an unknown or invalid option is 422 naming it', async () => {
    const unknown = await post(0, `?options=${encodeURIComponent('{"num_beam":2}')}`);
    expect(unknown.status).toBe(422);
    expect((await unknown.json()).error).toBe("Unknown generation option 'num_beam'; did you mean 'num_beams'?");
    const invalid = await post(0, `?options=${encodeURIComponent('{"num_beams":0}')}`);
    expect(invalid.status).toBe(422);
    expect((await invalid.json()).error).toMatch(/positive integer for num_beams/);
    const json = await post(0, '?options=%7Bnope');
    expect(json.status).toBe(422);
    expect((await json.json()).error).toMatch(/JSON object of generation options/);
    const param = await post(0, '?num_beams=2');
    expect(param.status).toBe(422);
    expect((await param.json()).error).toMatch(/Unknown query parameter 'num_beams'/);
  });

  it('routes: /health, 404, 405', async () => {
    const h = await fetch(`${url}/health`);
    expect(h.status).toBe(200);
    expect(await h.json()).toEqual({ status: 'ok', model: 'vit-gpt2-tiny' });
    expect((await fetch(`${url}/nope`)).status).toBe(404);
    const wrong = await fetch(`${url}/caption`);
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
  });

  it('/metrics is Prometheus text: requests by status, errors, batch sizes, latency, queue depth', async () => {
    const r = await fetch(`${url}/metrics`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await r.text();
    const samples = new Map<string, number>();
    for (const line of text.trimEnd().split('\n')) {
      if (line.startsWith('#')) {
        expect(line).toMatch(/^# (HELP|TYPE) torch_caption_[a-z_]+ .+$/);
        continue;
      }
      const m = /^([a-z_]+(?:\{[a-z_]+="[^"]*"(?:,[a-z_]+="[^"]*")*\})?) (-?[0-9.e+]+)$/.exec(line);
      expect(m, line).not.toBeNull();
      samples.set(m![1]!, Number(m![2]));
    }
    expect(samples.get('torch_caption_http_requests_total{route="/caption",status="200"}')).toBeGreaterThanOrEqual(16);
    expect(samples.get('torch_caption_http_requests_total{route="/caption",status="400"}')).toBeGreaterThanOrEqual(1);
    expect(samples.get('torch_caption_caption_errors_total{reason="bad_options"}')).toBeGreaterThanOrEqual(4);
    expect(samples.get('torch_caption_caption_errors_total{reason="too_large"}')).toBe(2);
    const batches = server.captioner.stats().batches;
    expect(samples.get('torch_caption_batch_size_count')).toBe(batches);
    expect(samples.get('torch_caption_batch_size_bucket{le="+Inf"}')).toBe(batches);
    expect(samples.get('torch_caption_batch_size_bucket{le="1"}')).toBeLessThan(batches);
    expect(samples.get('torch_caption_batches_total')).toBe(batches);
    const latency = [...samples].filter(([k]) => k.startsWith('torch_caption_request_duration_seconds_bucket')).map(([, v]) => v);
    expect(latency.length).toBeGreaterThan(5);
    expect(latency).toEqual([...latency].sort((a, b) => a - b)); // cumulative
    expect(samples.get('torch_caption_queue_depth')).toBe(0);
    expect(samples.get('torch_caption_running_requests')).toBe(0);
  });

  it('timeout is 504, full queue is 503, and shutdown completes the requests in flight', async () => {
    // A server whose batches wait long: requests stay queued, so the limits are hit for certain.
    const captioner = Captioner.fromPipeline(pipe, { maxWaitMs: 60_000, maxQueue: 2 });
    const slow = new CaptionServer(captioner, { timeoutMs: 300, closeCaptioner: false });
    const slowUrl = (await slow.listen(0)).url;
    const r504 = await fetch(`${slowUrl}/caption`, { method: 'POST', body: bytes[0]! });
    expect(r504.status).toBe(504);
    expect((await r504.json()).error).toMatch(/longer than 300 ms/);
    await waitFor(() => captioner.stats().queueDepth === 0); // the timed-out request left the queue

    const patient = new CaptionServer(captioner, { timeoutMs: 20_000 });
    const patientUrl = (await patient.listen(0)).url;
    const inFlight = [0, 1].map((i) => fetch(`${patientUrl}/caption`, { method: 'POST', body: bytes[i]! }));
    await waitFor(() => captioner.stats().queueDepth === 2);
    const full = await fetch(`${patientUrl}/caption`, { method: 'POST', body: bytes[2]! });
    expect(full.status).toBe(503);
    expect(full.headers.get('retry-after')).toBe('1');
    expect((await full.json()).error).toMatch(/queue is full/);
    await slow.close(); // leaves the captioner open: its requests stay queued
    expect(captioner.stats().queueDepth).toBe(2);
    await patient.close(); // drains: the two queued requests run now instead of after maxWaitMs
    const done = await Promise.all(inFlight);
    expect(done.map((r) => r.status)).toEqual([200, 200]);
    expect(await done[0]!.json()).toMatchObject(await expected(0));
    expect(await done[1]!.json()).toMatchObject(await expected(1));
    await expect(fetch(`${patientUrl}/health`)).rejects.toThrow(); // no longer listening
  });
});
