/**
 * Reading JSON files: the one implementation the library uses (configs, tokenizer files, checkpoints, COCO
 * annotations, CLI inputs). Failures are FormatErrors that name the file and the cause, with the underlying
 * error as `cause` (an fs error carries `code`, e.g. 'ENOENT', for callers that treat a missing file apart).
 */
import { readFile } from 'node:fs/promises';
import { describe, FormatError } from './errors.js';

/**
 * Read and parse a JSON file. `what` names the file's role in messages ("COCO annotations", "the
 * --predictions file"). The result is not validated: T is what the caller expects to find.
 */
export async function readJson<T = unknown>(file: string, what?: string): Promise<T> {
  const label = what ? `${what} ${file}` : file;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new FormatError(`Cannot read ${label}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text) as T; // a UTF-8 BOM is not JSON: skip it
  } catch (err) {
    throw new FormatError(`Expected valid JSON in ${label} but it does not parse: ${(err as Error).message}`, { cause: err });
  }
}

/** readJson for files that must hold a JSON object (not an array, a number, null, ...). */
export async function readJsonObject(file: string, what?: string): Promise<Record<string, unknown>> {
  const v = await readJson(file, what);
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new FormatError(`Expected a JSON object in ${what ? `${what} ${file}` : file} but found ${describe(v)}`);
  }
  return v as Record<string, unknown>;
}
