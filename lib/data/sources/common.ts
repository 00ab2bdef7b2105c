/** Helpers shared by the file sources. */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { expected, FormatError } from '../../errors.js';
import { decodeUtf8 } from '../text.js';

/** Read a whole text file (UTF-8; invalid bytes become U+FFFD), naming the file on failure. */
export async function readText(file: string, what: string): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = await fsp.readFile(file);
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new FormatError(`Cannot read ${what} ${file}${code ? ` (${code})` : ''}`, { cause: err });
  }
  return decodeUtf8(bytes);
}

/** A path option: a non-empty string. */
export function pathOption(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length === 0) expected('a path string', name, value);
  return value;
}

/** A string option that may be left out. */
export function optionalString(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0) expected('a non-empty string', name, value);
  return value;
}

/** Options object check. */
export function optionsObject<T>(value: T | undefined, name: string): T {
  if (value === undefined) return {} as T;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) expected('an options object', name, value);
  return value;
}

/** Resolve an image reference against a root folder (absolute paths stay as they are). */
export function resolveImage(root: string, p: string): string {
  return path.isAbsolute(p) ? p : path.join(root, p);
}
