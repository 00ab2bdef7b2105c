// `torch-caption caption` inputs as a shell user types them: character classes and braces (tinyglobby).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expandImages } from '../../lib/cli/caption.js';
import { UsageError } from '../../lib/cli/common.js';

const dir = mkdtempSync(join(tmpdir(), 'tc-glob-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
for (const sub of ['a', 'b', 'c']) mkdirSync(join(dir, sub));
for (const f of ['img_0.jpg', 'img_1.jpg', 'img_2.jpg', 'img_3.jpg', 'img_4.jpg', 'img_10.jpg', 'a/x.jpg', 'a/y.png', 'b/z.jpg', 'c/w.jpg', 'img_[1].jpg', 'notes.txt']) {
  writeFileSync(join(dir, f), 'x');
}
const rel = (files: string[]) => files.map((f) => relative(dir, f));

describe('caption inputs: globs', () => {
  it('character classes: img_[0-3].jpg', async () => {
    expect(rel(await expandImages([join(dir, 'img_[0-3].jpg')]))).toEqual(['img_0.jpg', 'img_1.jpg', 'img_2.jpg', 'img_3.jpg']);
    expect(rel(await expandImages([join(dir, 'img_[!0-3].jpg')]))).toEqual(['img_4.jpg']);
    expect(rel(await expandImages([join(dir, 'img_?.jpg')]))).toEqual(['img_0.jpg', 'img_1.jpg', 'img_2.jpg', 'img_3.jpg', 'img_4.jpg']);
  });

  it('braces: {a,b}/*.jpg, {0..2}', async () => {
    expect(rel(await expandImages([join(dir, '{a,b}/*.jpg')]))).toEqual(['a/x.jpg', 'b/z.jpg']);
    expect(rel(await expandImages([join(dir, 'a/*.{jpg,png}')]))).toEqual(['a/x.jpg', 'a/y.png']);
    expect(rel(await expandImages([join(dir, 'img_{0..2}.jpg')]))).toEqual(['img_0.jpg', 'img_1.jpg', 'img_2.jpg']);
    expect(rel(await expandImages([join(dir, '**/w.jpg')]))).toEqual(['c/w.jpg']);
  });

  it('relative patterns give relative paths; arguments keep their order', async () => {
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      expect(await expandImages(['b/*.jpg', 'img_[12].jpg', 'a'])).toEqual(['b/z.jpg', 'img_1.jpg', 'img_2.jpg', 'a/x.jpg', 'a/y.png']);
    } finally {
      process.chdir(cwd);
    }
  });

  it('an existing file is taken literally even when its name looks like a glob', async () => {
    expect(rel(await expandImages([join(dir, 'img_[1].jpg')]))).toEqual(['img_[1].jpg']);
  });

  it('a glob that matches nothing (or whose folder is missing) is reported, not an fs error; a missing plain path is bad usage', async () => {
    const warnings: string[] = [];
    const files = await expandImages([join(dir, 'nodir/*.jpg'), join(dir, 'img_[7-9].jpg'), join(dir, 'b/*.jpg')], (m) => void warnings.push(m));
    expect(rel(files)).toEqual(['b/z.jpg']);
    expect(warnings).toEqual([`no file matches ${join(dir, 'nodir/*.jpg')}`, `no file matches ${join(dir, 'img_[7-9].jpg')}`]);
    await expect(expandImages([join(dir, 'nope.jpg')])).rejects.toThrow(UsageError);
  });
});
