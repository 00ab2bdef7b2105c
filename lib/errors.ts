/**
 * Typed errors. Every error the library throws on purpose is a TorchCaptionError subclass, so callers
 * can branch on `instanceof` rather than on message text. Messages follow one format:
 * "Expected X for Y but received Z" for bad arguments, and say what to do next where there is a fix.
 */
export class TorchCaptionError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A bad argument or option value (wrong type, out of range, unknown key). */
export class InvalidArgumentError extends TorchCaptionError {}

/** A file that exists but cannot be parsed (corrupt safetensors, bad JSON config, truncated image). */
export class FormatError extends TorchCaptionError {}

/** The native addon or libtorch could not be loaded. */
export class NativeLoadError extends TorchCaptionError {}

/** An error raised inside libtorch or the addon while running a job. */
export class NativeError extends TorchCaptionError {}

/**
 * Data-parallel training broke: a collective failed or timed out (usually because another rank exited), or the
 * ranks could not rendezvous. The message names the collective and this rank.
 */
export class DistributedError extends TorchCaptionError {}

/** A config.json value that is valid for Hugging Face but not supported here (yet). */
export class UnsupportedConfigError extends TorchCaptionError {}

/** Training stopped because the loss became NaN or infinite. */
export class NonFiniteLossError extends TorchCaptionError {
  constructor(message: string, readonly step: number) {
    super(message);
  }
}

/** A bounded queue is full (the Captioner's, maxQueue): retry later, or raise the bound. */
export class QueueFullError extends TorchCaptionError {}

/** A call on an object that was closed (a Captioner after close()). */
export class ClosedError extends TorchCaptionError {}

/** Why fetching an image URL failed. */
export type FetchErrorCode = 'http-status' | 'too-large' | 'timeout' | 'network' | 'aborted';

/**
 * An http(s) image URL that could not be fetched: a non-2xx status, a body over the byte limit, no complete
 * response within the timeout, a network failure or an abort. `url` is the URL asked for, `code` says why and
 * `status` is the HTTP status when a response came.
 */
export class FetchError extends TorchCaptionError {
  readonly url: string;
  readonly code: FetchErrorCode;
  readonly status: number | null;
  constructor(message: string, options: { url: string; code: FetchErrorCode; status?: number | null; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.url = options.url;
    this.code = options.code;
    this.status = options.status ?? null;
  }
}

/** Describe a value for error messages: type plus a short rendering. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return `array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `${value.constructor.name} of length ${(value as unknown as { length: number }).length}`;
  if (typeof value === 'string') return `string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  if (typeof value === 'object') return `object ${value.constructor?.name ?? ''}`.trim();
  return `${typeof value} ${String(value)}`;
}

/** Throw the one-format argument error. */
export function expected(what: string, forName: string, received: unknown): never {
  throw new InvalidArgumentError(`Expected ${what} for ${forName} but received ${describe(received)}`);
}
