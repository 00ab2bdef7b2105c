/** Shared CLI plumbing: exit codes, one-line errors, JSON output as the last stdout line. */
import { InvalidArgumentError, TorchCaptionError } from '../errors.js';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** Raised for bad command-line usage (exit code 2). */
export class UsageError extends TorchCaptionError {}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

function jsonOf(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    const name = (value as { constructor?: { name?: unknown } } | null)?.constructor?.name;
    return `a thrown ${typeof name === 'string' && name ? name : 'value'} that cannot be printed`;
  }
}

/**
 * The readable text of anything thrown: an Error's message (an AggregateError's inner messages when it
 * has none), a thrown string, a thrown object's `message` or else its JSON (never "[object Object]");
 * an error code repeated in a row ("ENOENT: ENOENT: no such file") is said once.
 */
export function errorMessage(err: unknown): string {
  let msg: string;
  if (err instanceof Error) {
    const inner = err instanceof AggregateError && !err.message ? err.errors.map(errorMessage).join('; ') : '';
    msg = err.message || inner || err.name;
  } else if (typeof err === 'string') {
    msg = err;
  } else if (err !== null && typeof err === 'object') {
    const m = (err as { message?: unknown }).message;
    msg = typeof m === 'string' && m ? m : jsonOf(err);
  } else {
    msg = String(err);
  }
  return msg.replace(/\b([A-Z][A-Z0-9_]{2,}): (?:\1: )+/g, '$1: ');
}

/** Exit code for an error thrown by a command; prints it as one readable line on stderr. */
export function reportError(err: unknown): number {
  const msg = errorMessage(err);
  process.stderr.write(`torch-caption: ${msg.split('\n').join(' ')}\n`);
  return err instanceof UsageError || err instanceof InvalidArgumentError ? EXIT_USAGE : EXIT_FAILED;
}

export function parsePositiveInt(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`Expected a positive integer for ${name} but received ${JSON.stringify(value)}`);
  return n;
}

export function parseNonNegativeInt(value: string, name: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0) throw new UsageError(`Expected an integer ≥ 0 for ${name} but received ${JSON.stringify(value)}`);
  return n;
}

export function parsePort(value: string, name: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 1 || n > 65535) throw new UsageError(`Expected a TCP port (1-65535) for ${name} but received ${JSON.stringify(value)}`);
  return n;
}
