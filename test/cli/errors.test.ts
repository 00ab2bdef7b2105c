// Error messages of every command, through the built CLI (dist/: `npx tsc -p tsconfig.json`): a missing file
// and a file that is not JSON each give one readable stderr line, without doubled codes or [object Object].
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync, copyFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { errorMessage } from '../../lib/cli/common.js';
import { describeWithFixtures } from '../helpers/fixtures.js';

const bin = join(__dirname, '..', '..', 'bin', 'torch-caption.js');
const dir = mkdtempSync(join(tmpdir(), 'tc-cli-err-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000, cwd: dir });
const missing = join(dir, 'missing.json');
const bad = join(dir, 'bad.json');
writeFileSync(bad, '{"images": [');
const good = join(dir, 'refs.json');
writeFileSync(good, JSON.stringify({ '1': ['a dog'] }));

/** One line, the program name once, no "ENOENT: ENOENT:", no "[object Object]". */
function expectReadable(stderr: string): string {
  const lines = stderr.trim().split('\n');
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^torch-caption: /);
  expect(lines[0]).not.toMatch(/\b([A-Z][A-Z0-9_]{2,}): \1\b/);
  expect(lines[0]).not.toMatch(/object Object|undefined/);
  return lines[0]!;
}

describe('CLI error messages', () => {
  it('score: a missing file and a bad JSON file', () => {
    const m = cli('score', '--predictions', good, '--references', missing);
    expect(m.status).toBe(2);
    expect(expectReadable(m.stderr)).toMatch(/--references.*missing\.json.*no such file/);
    const b = cli('score', '--predictions', bad, '--references', good);
    expect(b.status).toBe(1);
    expect(expectReadable(b.stderr)).toMatch(/--predictions.*bad\.json.*does not parse/);
  });

  it('train: a missing config, a bad JSON config, a config naming a missing dataset file', () => {
    const m = cli('train', '--config', missing);
    expect(m.status).toBe(2);
    expect(expectReadable(m.stderr)).toMatch(/training config .*missing\.json.*ENOENT/);
    const b = cli('train', '--config', bad);
    expect(b.status).toBe(2);
    expect(expectReadable(b.stderr)).toMatch(/Cannot parse the training config/);
    const cfg = join(dir, 'train.json');
    writeFileSync(cfg, JSON.stringify({ model: { config: 'tiny' }, dataset: { type: 'coco', annotations: 'missing.json', images: '.' }, args: { output_dir: join(dir, 'out'), max_steps: 1 } }));
    const d = cli('train', '--config', cfg);
    expect(d.status).toBe(1);
    expect(expectReadable(d.stderr)).toMatch(/COCO annotations .*missing\.json: ENOENT: no such file/);
  });

  it('eval: a missing data spec and a bad JSON data spec', () => {
    const m = cli('eval', '--model', dir, '--data', missing);
    expect(m.status).toBe(2);
    expect(expectReadable(m.stderr)).toMatch(/missing\.json does not exist/);
    const b = cli('eval', '--model', dir, '--data', bad);
    expect(b.status).toBe(2);
    expect(expectReadable(b.stderr)).toMatch(/Cannot parse the dataset spec .*bad\.json as JSON/);
  });

  it('caption: a missing image, a glob in a missing folder, a missing model folder', () => {
    const m = cli('caption', '--model', dir, join(dir, 'missing.jpg'));
    expect(m.status).toBe(2);
    expect(expectReadable(m.stderr)).toMatch(/No such image or folder/);
    const g = cli('caption', '--model', dir, 'nodir/*.jpg');
    expect(g.status).toBe(2);
    expect(expectReadable(g.stderr)).toBe('torch-caption: No images found (no file matches nodir/*.jpg)');
    writeFileSync(join(dir, 'img.jpg'), 'x');
    const model = cli('caption', '--model', join(dir, 'no-model'), join(dir, 'img.jpg'));
    expect(model.status).not.toBe(0);
    expectReadable(model.stderr);
  });

  it('errorMessage: thrown objects, strings, aggregates, doubled codes', () => {
    expect(errorMessage(new Error('ENOENT: ENOENT: no such file or directory, open \'x\''))).toBe('ENOENT: no such file or directory, open \'x\'');
    expect(errorMessage({ code: 'E_NATIVE', message: 'libtorch said no' })).toBe('libtorch said no');
    expect(errorMessage({ code: 'E_NATIVE' })).toBe('{"code":"E_NATIVE"}');
    expect(errorMessage('plain')).toBe('plain');
    expect(errorMessage(undefined)).toBe('undefined');
    expect(errorMessage(new AggregateError([new Error('one'), { message: 'two' }]))).toBe('one; two');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(errorMessage(cyclic)).toBe('a thrown Object that cannot be printed');
  });
});

describeWithFixtures('CLI error messages with a fixture model', (fixtures) => {
  it('caption: a dangling link in a folder is reported once, without a doubled code', () => {
    const model = join(fixtures, 'models', 'vit-gpt2-tiny');
    const imgs = join(dir, 'imgs');
    mkdirSync(imgs);
    copyFileSync(join(fixtures, 'images', 'china.jpg'), join(imgs, 'a.jpg'));
    symlinkSync(join(dir, 'gone.jpg'), join(imgs, 'b.jpg'));
    const r = cli('caption', '--model', model, imgs);
    expect(r.status).toBe(1);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const line = expectReadable(r.stderr);
    expect(line).toMatch(/skipped .*b\.jpg: .*ENOENT: no such file/);
  });

  it('caption: character classes and braces, as the shell user types them', () => {
    const model = join(fixtures, 'models', 'vit-gpt2-tiny');
    for (const sub of ['x', 'y']) mkdirSync(join(dir, sub));
    for (const [i, f] of ['china.jpg', 'flower.jpg', 'china.jpg', 'flower.jpg'].entries()) copyFileSync(join(fixtures, 'images', f), join(dir, 'x', `img_${i}.jpg`));
    copyFileSync(join(fixtures, 'images', 'flower.jpg'), join(dir, 'y', 'img_9.jpg'));
    const classes = cli('caption', '--model', model, 'x/img_[0-2].jpg');
    expect(classes.status, classes.stderr).toBe(0);
    expect(classes.stdout.trim().split('\n').map((l) => l.split('\t')[0])).toEqual(['x/img_0.jpg', 'x/img_1.jpg', 'x/img_2.jpg']);
    const braces = cli('caption', '--model', model, '--json', '{x,y}/*_[39].jpg');
    expect(braces.status, braces.stderr).toBe(0);
    expect(braces.stdout.trim().split('\n').map((l) => JSON.parse(l).image)).toEqual(['x/img_3.jpg', 'y/img_9.jpg']);
  });
});
