/**
 * Images given as http(s) URLs: fetched with Node's fetch and streamed into memory under a byte limit and a
 * timeout, so that the pipeline, the CLI and the server can take a URL wherever they take a path.
 *
 * - The limit is checked against Content-Length when the server sends one (nothing of the body is read when
 *   it announces too much) and against the bytes received while streaming: the download is aborted as soon
 *   as it passes the limit, without reading the rest.
 * - The timeout covers the whole download (connecting, headers and body); redirects are followed.
 * - Every failure is a FetchError naming the URL, with `code` ('http-status', 'too-large', 'timeout',
 *   'network', 'aborted'), `status` for HTTP errors, and a hint in the message.
 */
import { expected, FetchError, InvalidArgumentError, type FetchErrorCode } from '../errors.js';
import type { ImageInput } from '../types.js';

/** Default byte limit of a fetched image: 20 MiB. */
export const DEFAULT_FETCH_MAX_BYTES = 20 * 1024 * 1024;
/** Default timeout of a fetched image, for the whole download: 30 s. */
export const DEFAULT_FETCH_TIMEOUT_MS = 30_000;

export interface FetchImageOptions {
  /** Most bytes an image may have (after any content-encoding is undone). Default 20 MiB. */
  maxBytes?: number;
  /** Longest the whole download may take, in milliseconds. Default 30000. */
  timeoutMs?: number;
  /** Aborting it stops the download (FetchError with code 'aborted'). */
  signal?: AbortSignal;
  /** Extra request headers (an Authorization header, a User-Agent). */
  headers?: Record<string, string>;
}

/** True for a string that starts with http:// or https:// (case-insensitive): such inputs are fetched, not read from disk. */
export function isImageUrl(value: unknown): value is string {
  return typeof value === 'string' && /^https?:\/\//i.test(value);
}

/** The options with defaults filled in, every value checked (InvalidArgumentError naming the key). */
export function resolveFetchOptions(opts: FetchImageOptions = {}, name = 'fetch'): Required<Pick<FetchImageOptions, 'maxBytes' | 'timeoutMs'>> & Pick<FetchImageOptions, 'signal' | 'headers'> {
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) expected('an object', `${name} options`, opts);
  for (const k of Object.keys(opts)) {
    if (!['maxBytes', 'timeoutMs', 'signal', 'headers'].includes(k)) {
      throw new InvalidArgumentError(`Unknown ${name} option '${k}'; the options are maxBytes, timeoutMs, signal and headers`);
    }
  }
  const { maxBytes = DEFAULT_FETCH_MAX_BYTES, timeoutMs = DEFAULT_FETCH_TIMEOUT_MS, signal, headers } = opts;
  if (!Number.isInteger(maxBytes) || maxBytes < 1) expected('a positive integer number of bytes', `${name}.maxBytes`, maxBytes);
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0) || !Number.isFinite(timeoutMs)) expected('a positive number of milliseconds', `${name}.timeoutMs`, timeoutMs);
  if (signal !== undefined && !(signal instanceof AbortSignal)) expected('an AbortSignal', `${name}.signal`, signal);
  if (headers !== undefined && (headers === null || typeof headers !== 'object' || Array.isArray(headers))) expected('an object of header names to values', `${name}.headers`, headers);
  return { maxBytes, timeoutMs, ...(signal ? { signal } : {}), ...(headers ? { headers } : {}) };
}

function statusHint(status: number): string {
  if (status === 404 || status === 410) return 'check the URL';
  if (status === 401 || status === 403) return 'the server refused access: the image may need authentication (pass headers)';
  if (status === 429 || status >= 500) return 'the server is busy or failing: retry later';
  return 'check the URL and what the server expects';
}

function networkReason(err: unknown): { reason: string; hint: string } {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  const code = e.cause?.code;
  const reason = e.cause?.message ?? e.message ?? String(err);
  const hint =
    code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? 'check the host name and the DNS / network connection'
    : code === 'ECONNREFUSED' ? 'nothing accepts connections there: check the host and port'
    : code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' ? 'the server closed the connection: retry, or check the server'
    : 'check the URL and the network connection';
  return { reason: code && !reason.includes(code) ? `${code}: ${reason}` : reason, hint };
}

function mib(n: number): string {
  return n >= 1024 * 1024 ? `${(n / (1024 * 1024)).toFixed(1)} MiB` : `${n} bytes`;
}

/**
 * Fetch an image URL into memory. Resolves with the body bytes; rejects with FetchError (status, size, timeout,
 * network, abort) or InvalidArgumentError (not an http(s) URL, bad options).
 */
export async function fetchImage(url: string, opts: FetchImageOptions = {}): Promise<Buffer> {
  const { maxBytes, timeoutMs, signal, headers } = resolveFetchOptions(opts);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (err) {
    throw new InvalidArgumentError(`Expected an http(s) URL for the image but received ${JSON.stringify(url)} (not a valid URL)`, { cause: err });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new InvalidArgumentError(`Expected an http(s) URL for the image but received ${JSON.stringify(url)}`);
  }
  const fail = (code: FetchErrorCode, detail: string, extra: { status?: number; cause?: unknown } = {}): FetchError =>
    new FetchError(`Cannot fetch image ${url}: ${detail}`, { url, code, ...extra });
  if (signal?.aborted) throw fail('aborted', 'the download was aborted (signal)', { cause: signal.reason });

  const controller = new AbortController();
  let stopped: 'timeout' | 'aborted' | null = null;
  const timer = setTimeout(() => {
    stopped = 'timeout';
    controller.abort();
  }, timeoutMs);
  const onAbort = (): void => {
    stopped ??= 'aborted';
    controller.abort();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  // A timeout or an abort wins over the error it provokes inside fetch; anything else is a network failure.
  const interrupted = (err: unknown): FetchError => {
    if (stopped === 'timeout') {
      return fail('timeout', `no complete response within ${timeoutMs} ms; raise the timeout (fetch.timeoutMs, or the pipeline's timeout in seconds) or check the server`, { cause: err });
    }
    if (stopped === 'aborted') return fail('aborted', 'the download was aborted (signal)', { cause: signal?.reason ?? err });
    const { reason, hint } = networkReason(err);
    return fail('network', `${reason}; ${hint}`, { cause: err });
  };
  const tooLarge = (what: string): FetchError =>
    fail('too-large', `${what}, over the limit of ${mib(maxBytes)} (maxBytes); raise fetch.maxBytes if the image really is this large`);

  try {
    let res: Response;
    try {
      res = await fetch(parsed, { signal: controller.signal, redirect: 'follow', ...(headers ? { headers } : {}) });
    } catch (err) {
      throw interrupted(err);
    }
    if (!res.ok) {
      controller.abort();
      await res.body?.cancel().catch(() => undefined);
      throw fail('http-status', `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}; ${statusHint(res.status)}`, { status: res.status });
    }
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (Number.isFinite(declared) && declared > maxBytes) {
      controller.abort();
      await res.body?.cancel().catch(() => undefined);
      throw tooLarge(`the server announces ${mib(declared)} (Content-Length)`);
    }
    if (!res.body) return Buffer.alloc(0);
    const reader = res.body.getReader();
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (err) {
        throw interrupted(err);
      }
      if (chunk.done) break;
      total += chunk.value.byteLength;
      if (total > maxBytes) {
        // Stop here: the connection is dropped, the rest is never read.
        controller.abort();
        await reader.cancel().catch(() => undefined);
        throw tooLarge(`the body passed ${mib(total)} before it ended`);
      }
      chunks.push(chunk.value);
    }
    return Buffer.concat(chunks, total);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

/** An input as the image processor takes it: an http(s) URL is fetched into a Buffer, anything else is returned as is. */
export async function resolveImageInput(input: ImageInput, opts: FetchImageOptions = {}): Promise<ImageInput> {
  return isImageUrl(input) ? fetchImage(input, opts) : input;
}
