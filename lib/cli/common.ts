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

/** Exit code for an error thrown by a command; prints it as one readable line on stderr. */
export function reportError(err: unknown): number {
  const msg = err instanceof Error ? err.message : String(err);
  process.stderr.write(`torch-caption: ${msg.split('\n').join(' ')}\n`);
  return err instanceof UsageError || err instanceof InvalidArgumentError ? EXIT_USAGE : EXIT_FAILED;
}

export function parsePositiveInt(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`Expected a positive integer for ${name} but received ${JSON.stringify(value)}`);
  return n;
}
