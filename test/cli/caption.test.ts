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
    let flags = '';
    try {
      flags = readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      flags = '';
    }
    expect(report.cpuBf16).toMatch(!flags ? /^unknown$/ : /\b(avx512_bf16|amx_bf16)\b/.test(flags) ? /^native \(/ : /^emulated:/);
    const text = cli('doctor');
    expect(text.stdout).toMatch(/libtorch\s+\d/);
  });

  it('bad usage exits 2 with one readable line on stderr', () => {
    const r = cli('caption', '--num-beams', 'x', '--model', 'm', 'a.png');
    expect(r.status).toBe(2);
    const missing = cli('caption', '--model', '/nonexistent', '/nonexistent.png');
    expect(missing.status).toBe(2);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(cli('--help').status).toBe(0);
    expect(cli('caption', '--help').stdout).toMatch(/--num-beams/);
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
});
