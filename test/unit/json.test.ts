// readJson / readJsonObject (lib/json.ts): the library's one JSON file reader.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FormatError } from '../../lib/errors.js';
import { readJson, readJsonObject } from '../../lib/json.js';

const dir = mkdtempSync(join(tmpdir(), 'tc-json-'));
const write = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe('readJson', () => {
  it('parses a file, skipping a UTF-8 BOM', async () => {
    expect(await readJson(write('a.json', '{"a": [1, 2]}'))).toEqual({ a: [1, 2] });
    expect(await readJson<number[]>(write('bom.json', '\uFEFF[3]'))).toEqual([3]);
  });

  it('throws FormatError naming the file, its role and the cause, with the fs error as cause', async () => {
    const missing = join(dir, 'nope.json');
    const err = await readJson(missing, 'COCO annotations').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FormatError);
    expect((err as Error).message).toMatch(/^Cannot read COCO annotations .*nope\.json: ENOENT/);
    expect(((err as Error).cause as NodeJS.ErrnoException).code).toBe('ENOENT');
    await expect(readJson(write('bad.json', '{nope'))).rejects.toThrow(/Expected valid JSON in .*bad\.json but it does not parse/);
    await expect(readJson(write('bad2.json', '{nope'))).rejects.toThrow(FormatError);
  });

  it('readJsonObject refuses anything but an object', async () => {
    expect(await readJsonObject(write('o.json', '{"k": 1}'))).toEqual({ k: 1 });
    await expect(readJsonObject(write('arr.json', '[1]'), 'the config')).rejects.toThrow(/Expected a JSON object in the config .*arr\.json but found array of length 1/);
    await expect(readJsonObject(write('null.json', 'null'))).rejects.toThrow(FormatError);
  });
});
