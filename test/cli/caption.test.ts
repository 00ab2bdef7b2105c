// The caption and doctor commands end to end, through the built CLI (dist/, made by `npm test`'s setup).
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWithFixtures } from '../helpers/fixtures.js';

const bin = join(__dirname, '..', '..', 'bin', 'torch-caption.js');
const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000 });

describe('torch-caption CLI', () => {
  it('doctor reports versions, libtorch, threads and CUDA', () => {
    const r = cli('doctor', '--json');
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(report.ok).toBe(true);
    expect(report.libtorch.version).toMatch(/^\d+\.\d+/);
    expect(report.addon.path).toMatch(/torch_caption\.node$/);
    expect(typeof report.cuda.available).toBe('boolean');
    expect(report.blas).toBeTruthy();
    expect(Number.isInteger(report.threads.blas) && report.threads.blas >= 1).toBe(true);
    let flags = '';
    try {
      flags = readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      flags = '';
    }
    expect(report.cpuBf16).toMatch(!flags ? /^unknown$/ : /\b(avx512_bf16|amx_bf16)\b/.test(flags) ? /^native \(/ : /^emulated:/);
    const text = cli('doctor');
    expect(text.stdout).toMatch(/libtorch\s+\d/);
    expect(text.stdout).toMatch(/BLAS \d+;/);
  });

  it('bad usage exits 2 with one readable line on stderr', () => {
    const r = cli('caption', '--num-beams', 'x', '--model', 'm', 'a.png');
    expect(r.status).toBe(2);
    const missing = cli('caption', '--model', '/nonexistent', '/nonexistent.png');
    expect(missing.status).toBe(2);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(cli('--help').status).toBe(0);
    expect(cli('caption', '--help').stdout).toMatch(/--num-beams/);
    expect(cli('caption', '--help').stdout).toMatch(/--fail-fast/);
  });
});

describeWithFixtures('torch-caption caption on a fixture model', (fixtures) => {
  it('captions a folder of images, with --json lines, greedy and beam', async () => {
    const model = join(fixtures, 'models', 'vit-gpt2-tiny');
    const dir = mkdtempSync(join(tmpdir(), 'tc-cli-'));
    for (const f of ['china.jpg', 'flower.jpg', 'rgba.png']) copyFileSync(join(fixtures, 'images', f), join(dir, f));
    writeFileSync(join(dir, 'notes.txt'), 'not an image');
    const r = cli('caption', '--model', model, '--json', dir);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.image.split('/').pop())).toEqual(['china.jpg', 'flower.jpg', 'rgba.png']);
    for (const l of lines) expect(l.caption).toMatch(/^[a-z ]+$/);
    const beam = cli('caption', '--model', model, '--num-beams', '3', '--max-length', '12', join(dir, '*.jpg'));
    expect(beam.status, beam.stderr).toBe(0);
    expect(beam.stdout.trim().split('\n')).toHaveLength(2);
    expect(readdirSync(dir)).toHaveLength(4);
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('not an image');
  });

  it('captions the good images of a folder, reports each bad one on stderr and exits 1 (--fail-fast stops at the first)', async () => {
    const model = join(fixtures, 'models', 'vit-gpt2-tiny');
    const dir = mkdtempSync(join(tmpdir(), 'tc-cli-bad-'));
    for (const f of ['china.jpg', 'flower.jpg', 'rgba.png']) copyFileSync(join(fixtures, 'images', f), join(dir, f));
    writeFileSync(join(dir, 'broken.jpg'), readFileSync(join(fixtures, 'images', 'flower.jpg')).subarray(0, 300)); // truncated
    writeFileSync(join(dir, 'garbage.png'), 'this is not a png at all');
    const good = ['china.jpg', 'flower.jpg', 'rgba.png'].map((f) => join(dir, f));
    const clean = cli('caption', '--model', model, ...good);
    expect(clean.status, clean.stderr).toBe(0);
    const cleanLines = clean.stdout.trim().split('\n');
    expect(cleanLines).toHaveLength(3);

    // batches of 2: [broken, china], [flower, garbage], [rgba]; every batch but the last holds a bad image
    const r = cli('caption', '--model', model, '--batch-size', '2', dir);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout.trim().split('\n')).toEqual(cleanLines);
    const errs = r.stderr.trim().split('\n');
    expect(errs).toHaveLength(2);
    expect(errs[0]).toContain(join(dir, 'broken.jpg'));
    expect(errs[0]).toMatch(/premature end|corrupt|truncat/i);
    expect(errs[1]).toContain(join(dir, 'garbage.png'));
    expect(errs[1]).toMatch(/unsupported image format|cannot decode/i);

    const json = cli('caption', '--model', model, '--json', dir);
    expect(json.status, json.stderr).toBe(1);
    const lines = json.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.image)).toEqual(good);
    expect(lines.map((l) => `${l.image}\t${l.caption}`)).toEqual(cleanLines);
    expect(json.stderr.trim().split('\n')).toHaveLength(2);

    // --fail-fast: nothing after the first bad image (broken.jpg sorts first, china.jpg is in its batch)
    const ff = cli('caption', '--model', model, '--fail-fast', dir);
    expect(ff.status).toBe(1);
    expect(ff.stdout).toBe('');
    expect(ff.stderr.trim().split('\n')).toHaveLength(1);
    expect(ff.stderr).toContain(join(dir, 'broken.jpg'));
    const ff1 = cli('caption', '--model', model, '--fail-fast', '--batch-size', '1', join(dir, 'china.jpg'), join(dir, 'broken.jpg'), join(dir, 'flower.jpg'));
    expect(ff1.status).toBe(1);
    expect(ff1.stdout.trim().split('\n')).toEqual([cleanLines[0]]);
    expect(ff1.stderr).toContain(join(dir, 'broken.jpg'));
  });
});
