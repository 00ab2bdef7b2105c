/**
 * The caption HTTP server (docs/serving.md): node:http, three routes, one Captioner behind them.
 *
 *   POST /caption   image bytes (any Content-Type but multipart) or multipart/form-data {image, options?};
 *                   generation options as JSON in the `options` query parameter and/or the `options` field
 *   GET  /health    200 {status: 'ok', model} while serving, 503 while shutting down
 *   GET  /metrics   Prometheus text exposition
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ClosedError, expected, FormatError, InvalidArgumentError, QueueFullError, TorchCaptionError } from '../errors.js';
import type { GenerateOptions } from '../models/generation.js';
import type { PipelineOptions } from '../pipeline.js';
import { Captioner, type BatchingOptions, type CaptionOutput } from './captioner.js';
import { MultipartError, multipartBoundary, parseMultipart } from './multipart.js';

export interface ServerOptions {
  /** Largest request body accepted, in bytes (default 20 MiB); larger ones get 413. */
  maxBodyBytes?: number;
  /** Per-request limit from its first byte to its response, in ms (default 30000); past it, 504. */
  timeoutMs?: number;
  /** close() also closes the Captioner (default true). */
  closeCaptioner?: boolean;
  /** Where 500s are logged (default: one line on stderr). */
  log?: (line: string) => void;
}

export interface ListenInfo {
  url: string;
  host: string;
  port: number;
}

/** A request that took longer than timeoutMs. */
class RequestTimeoutError extends TorchCaptionError {}
/** A body over maxBodyBytes. */
class BodyTooLargeError extends TorchCaptionError {}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const ROUTES = new Set(['/caption', '/health', '/metrics']);

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
}

/** Generation options from a JSON text: an object, else 422. */
function parseOptions(text: string, where: string): Partial<GenerateOptions> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InvalidArgumentError(`Expected a JSON object of generation options in ${where} but it does not parse (${firstLine(err)})`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidArgumentError(`Expected a JSON object of generation options in ${where} but received ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}`);
  }
  return value as Partial<GenerateOptions>;
}

function readBody(req: IncomingMessage, limit: number, signal: AbortSignal): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (err: unknown, body?: Buffer): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', done);
      req.off('aborted', onAborted);
      signal.removeEventListener('abort', onAbort);
      if (err) {
        req.resume(); // discard the rest, so the client gets to read the response
        reject(err);
      } else {
        resolve(body!);
      }
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) done(new BodyTooLargeError(`Expected a request body of at most ${limit} bytes but received more`));
      else chunks.push(chunk);
    };
    const onEnd = (): void => done(null, Buffer.concat(chunks, size));
    const onAborted = (): void => done(new Error('the client closed the connection'));
    const onAbort = (): void => done(signal.reason);
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', done);
    req.on('aborted', onAborted);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

class Histogram {
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(readonly buckets: readonly number[]) {
    this.counts = buckets.map(() => 0);
  }
  observe(v: number, times = 1): void {
    this.buckets.forEach((b, i) => {
      if (v <= b) this.counts[i]! += times;
    });
    this.sum += v * times;
    this.count += times;
  }
  render(name: string, help: string): string[] {
    const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} histogram`];
    this.buckets.forEach((b, i) => lines.push(`${name}_bucket{le="${b}"} ${this.counts[i]}`));
    lines.push(`${name}_bucket{le="+Inf"} ${this.count}`, `${name}_sum ${+this.sum.toFixed(6)}`, `${name}_count ${this.count}`);
    return lines;
  }
}

export class CaptionServer {
  readonly captioner: Captioner;
  readonly http: Server;
  readonly maxBodyBytes: number;
  readonly timeoutMs: number;
  #opts: ServerOptions;
  #closing: Promise<void> | null = null;
  #active = 0; // POST /caption requests not yet answered
  #reading = 0; // of those, the ones not yet handed to the captioner
  #changed: (() => void)[] = [];
  #info: ListenInfo | null = null;
  #requests = new Map<string, number>(); // `${route}\t${status}` -> count
  #errors = new Map<string, number>(); // reason -> count
  #latency = new Histogram(LATENCY_BUCKETS);

  constructor(captioner: Captioner, opts: ServerOptions = {}) {
    this.captioner = captioner;
    this.#opts = opts;
    this.maxBodyBytes = opts.maxBodyBytes ?? 20 * 1024 * 1024;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    if (!Number.isInteger(this.maxBodyBytes) || this.maxBodyBytes < 1) expected('a positive integer', 'maxBodyBytes', this.maxBodyBytes);
    if (!Number.isInteger(this.timeoutMs) || this.timeoutMs < 1) expected('a positive integer', 'timeoutMs', this.timeoutMs);
    this.http = createServer((req, res) => void this.#handle(req, res));
  }

  /** Start listening (port 0: any free port; host default 127.0.0.1). */
  listen(port = 0, host = '127.0.0.1'): Promise<ListenInfo> {
    return new Promise((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => {
        this.http.off('error', reject);
        const addr = this.http.address() as AddressInfo;
        const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
        this.#info = { url: `http://${h}:${addr.port}`, host: addr.address, port: addr.port };
        resolve(this.#info);
      });
    });
  }

  /** Where it listens (null before listen()). */
  get address(): ListenInfo | null {
    return this.#info;
  }

  /**
   * Graceful shutdown: stop accepting connections and answer 503 to new requests on open ones; let every
   * request already received finish (with closeCaptioner, the default, its batch runs at once instead of
   * waiting maxWaitMs to fill); then close the Captioner and every connection.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
      this.http.closeIdleConnections();
      if (this.#opts.closeCaptioner ?? true) {
        await this.#until(() => this.#reading === 0); // every received request has reached the captioner (or failed)
        await this.captioner.close();
      }
      await this.#until(() => this.#active === 0);
      this.http.closeAllConnections();
      await closed;
    })();
    return this.#closing;
  }

  async #until(cond: () => boolean): Promise<void> {
    while (!cond()) await new Promise<void>((resolve) => this.#changed.push(resolve));
  }

  #notify(): void {
    const waiting = this.#changed;
    this.#changed = [];
    for (const f of waiting) f();
  }

  /** The Prometheus text exposition of /metrics. */
  metrics(): string {
    const s = this.captioner.stats();
    const lines: string[] = [];
    lines.push('# HELP torch_caption_http_requests_total HTTP requests answered, by route and status code.', '# TYPE torch_caption_http_requests_total counter');
    for (const [k, n] of [...this.#requests].sort()) {
      const [route, status] = k.split('\t');
      lines.push(`torch_caption_http_requests_total{route="${route}",status="${status}"} ${n}`);
    }
    lines.push('# HELP torch_caption_caption_errors_total Caption requests that failed, by reason.', '# TYPE torch_caption_caption_errors_total counter');
    for (const [reason, n] of [...this.#errors].sort()) lines.push(`torch_caption_caption_errors_total{reason="${reason}"} ${n}`);
    lines.push(...this.#latency.render('torch_caption_request_duration_seconds', 'POST /caption latency, from the first byte to the response.'));
    const max = this.captioner.batching.maxBatchSize;
    const buckets: number[] = [];
    for (let b = 1; b < max; b *= 2) buckets.push(b);
    buckets.push(max);
    const sizes = new Histogram(buckets);
    for (const [size, n] of Object.entries(s.batchSizes)) sizes.observe(Number(size), n);
    lines.push(...sizes.render('torch_caption_batch_size', 'Images per batched generate call.'));
    lines.push('# HELP torch_caption_batches_total Batched generate calls.', '# TYPE torch_caption_batches_total counter', `torch_caption_batches_total ${s.batches}`);
    lines.push('# HELP torch_caption_queue_depth Requests waiting: being preprocessed or queued for a batch.', '# TYPE torch_caption_queue_depth gauge', `torch_caption_queue_depth ${s.queueDepth}`);
    lines.push('# HELP torch_caption_queue_capacity Most requests that may wait (maxQueue).', '# TYPE torch_caption_queue_capacity gauge', `torch_caption_queue_capacity ${this.captioner.batching.maxQueue}`);
    lines.push('# HELP torch_caption_running_requests Requests in the batch running now.', '# TYPE torch_caption_running_requests gauge', `torch_caption_running_requests ${s.running}`);
    return lines.join('\n') + '\n';
  }

  #send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    if (res.headersSent || res.writableEnded) return;
    const text = typeof body === 'string' ? body : JSON.stringify(body) + '\n';
    const type = typeof body === 'string' ? 'text/plain; version=0.0.4; charset=utf-8' : 'application/json; charset=utf-8';
    res.writeHead(status, {
      'Content-Type': type,
      'Content-Length': String(Buffer.byteLength(text)),
      ...(this.#closing || status === 413 ? { Connection: 'close' } : {}),
      ...headers,
    });
    res.end(text);
  }

  #error(res: ServerResponse, status: number, reason: string, err: unknown, headers?: Record<string, string>): void {
    this.#errors.set(reason, (this.#errors.get(reason) ?? 0) + 1);
    const type = err instanceof Error ? err.constructor.name : 'Error';
    this.#send(res, status, { error: firstLine(err), type, status }, headers);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const start = performance.now();
    let path = '/';
    try {
      path = new URL(req.url ?? '/', 'http://localhost').pathname;
    } catch {
      path = '?';
    }
    const route = ROUTES.has(path) ? path : 'other';
    res.on('finish', () => {
      const key = `${route}\t${res.statusCode}`;
      this.#requests.set(key, (this.#requests.get(key) ?? 0) + 1);
      if (route === '/caption' && req.method === 'POST') this.#latency.observe((performance.now() - start) / 1000);
    });
    if (this.#closing) {
      req.resume();
      if (route === '/health') this.#send(res, 503, { status: 'shutting down', model: this.captioner.name });
      else this.#error(res, 503, 'shutting_down', new ClosedError('The server is shutting down'));
      return;
    }
    const allow = route === '/caption' ? 'POST' : 'GET';
    if (route === 'other') {
      req.resume();
      this.#send(res, 404, { error: `No route ${path}; the routes are POST /caption, GET /health, GET /metrics`, status: 404 });
      return;
    }
    if (req.method !== allow && !(allow === 'GET' && req.method === 'HEAD')) {
      req.resume();
      this.#send(res, 405, { error: `${req.method} is not allowed on ${path}; use ${allow}`, status: 405 }, { Allow: allow });
      return;
    }
    if (route === '/health') return this.#send(res, 200, { status: 'ok', model: this.captioner.name });
    if (route === '/metrics') return this.#send(res, 200, this.metrics());
    this.#active++;
    try {
      await this.#caption(req, res);
    } finally {
      this.#active--;
      this.#notify();
    }
  }

  async #caption(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(new RequestTimeoutError(`The request took longer than ${this.timeoutMs} ms`)), this.timeoutMs);
    this.#reading++;
    let reading = true;
    const handed = (): void => {
      if (!reading) return;
      reading = false;
      this.#reading--;
      this.#notify();
    };
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      let options: Partial<GenerateOptions> = {};
      for (const [k, v] of url.searchParams) {
        if (k !== 'options') throw new InvalidArgumentError(`Unknown query parameter '${k}'; pass generation options as JSON: ?options={"${k}":...}`);
        options = { ...options, ...parseOptions(v, 'the options query parameter') };
      }
      const declared = Number(req.headers['content-length']);
      if (declared > this.maxBodyBytes) throw new BodyTooLargeError(`Expected a request body of at most ${this.maxBodyBytes} bytes but Content-Length is ${declared}`);
      const body = await readBody(req, this.maxBodyBytes, ac.signal);
      let image: Buffer = body;
      const boundary = multipartBoundary(req.headers['content-type']);
      if (boundary !== null) {
        const parts = parseMultipart(body, boundary);
        const file = parts.find((p) => p.name === 'image');
        if (!file) throw new MultipartError(`Expected a multipart field named 'image' but received ${parts.length ? parts.map((p) => `'${p.name}'`).join(', ') : 'no fields'}`);
        image = file.data;
        const opt = parts.find((p) => p.name === 'options');
        if (opt) options = { ...options, ...parseOptions(opt.data.toString('utf8'), 'the options field') };
      }
      if (image.length === 0) throw new FormatError('Expected image bytes in the request body but it is empty');
      // Options first, so that a bad option is a 422 whatever the image, and any later argument error is the image's.
      this.captioner.model.generationOptions(options);
      let out: CaptionOutput;
      try {
        const pending = this.captioner.caption(image, { ...options, signal: ac.signal });
        handed();
        out = await pending;
      } catch (err) {
        if (err instanceof InvalidArgumentError) throw new FormatError(firstLine(err), { cause: err }); // e.g. too many pixels
        throw err;
      }
      this.#send(res, 200, out);
    } catch (err) {
      if (err instanceof RequestTimeoutError) this.#error(res, 504, 'timeout', err);
      else if (err instanceof BodyTooLargeError) this.#error(res, 413, 'too_large', err);
      else if (err instanceof QueueFullError) this.#error(res, 503, 'queue_full', err, { 'Retry-After': '1' });
      else if (err instanceof ClosedError) this.#error(res, 503, 'shutting_down', err);
      else if (err instanceof InvalidArgumentError) this.#error(res, 422, 'bad_options', err);
      else if (err instanceof FormatError || err instanceof MultipartError) this.#error(res, 400, 'bad_image', err);
      else {
        (this.#opts.log ?? ((l) => process.stderr.write(l + '\n')))(`torch-caption serve: POST /caption failed: ${firstLine(err)}`);
        if (!res.headersSent && !req.complete) req.resume();
        this.#error(res, 500, 'internal', err);
      }
    } finally {
      handed();
      clearTimeout(timer);
    }
  }
}

export interface StartServerOptions extends BatchingOptions, ServerOptions, Pick<PipelineOptions, 'device' | 'dtype' | 'revision'> {
  /** Model folder or hub id. */
  model: string;
  port?: number;
  host?: string;
}

/** Load the model into a Captioner and listen: what `torch-caption serve` runs. */
export async function startServer(opts: StartServerOptions): Promise<CaptionServer> {
  const { model, port, host, maxBodyBytes, timeoutMs, closeCaptioner, log, maxBatchSize, maxWaitMs, maxQueue, ...load } = opts;
  const captioner = await Captioner.fromPretrained(model, { ...load, maxBatchSize, maxWaitMs, maxQueue });
  const server = new CaptionServer(captioner, { maxBodyBytes, timeoutMs, closeCaptioner, log });
  await server.listen(port ?? 0, host ?? '127.0.0.1');
  return server;
}
