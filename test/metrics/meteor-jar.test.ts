/**
 * COCO METEOR through a METEOR 1.5 jar: the stdin protocol is checked against a stand-in "java"
 * (a small Node script) that logs what it receives and answers like METEOR does. No real jar or JVM
 * is needed.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { scoreCaptions } from '../../lib/metrics/index.js';
import { resetMeteorWarning } from '../../lib/metrics/score.js';

const dir = mkdtempSync(join(tmpdir(), 'tc-meteor-'));
const jar = join(dir, 'meteor-1.5.jar');
writeFileSync(jar, 'not really a jar');
const log = join(dir, 'log.jsonl');
const fakeMeteor = join(dir, 'fake-meteor.mjs');
// Answers SCORE lines with "stats" = "<refs> <hyp words>" and EVAL lines with hypWords/10 per
// segment and their sum / 100 as the final score.
writeFileSync(
  fakeMeteor,
  `import { appendFileSync, readFileSync } from 'node:fs';
const input = readFileSync(0, 'utf8');
appendFileSync(${JSON.stringify(log)}, JSON.stringify({ argv: process.argv.slice(2), cwd: process.cwd(), lc: process.env.LC_ALL, input }) + '\\n');
for (const line of input.split('\\n')) {
  if (line.startsWith('SCORE ||| ')) {
    const parts = line.split(' ||| ');
    const hyp = parts[parts.length - 1];
    process.stdout.write((parts.length - 2) + ' ' + hyp.split(' ').filter(Boolean).length + '\\n');
  } else if (line.startsWith('EVAL ||| ')) {
    const stats = line.split(' ||| ').slice(1);
    let total = 0;
    for (const s of stats) { const w = Number(s.split(' ')[1]); total += w; process.stdout.write(String(w / 10) + '\\n'); }
    process.stdout.write(String(total / 100) + '\\n');
  }
}
`,
);
const java = join(dir, 'java');
writeFileSync(java, `#!/bin/sh\nif [ "$1" = "-version" ]; then echo 'fake java' >&2; exit 0; fi\nexec "${process.execPath}" "${fakeMeteor}" "$@"\n`);
chmodSync(java, 0o755);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const preds = { '2': 'A dog runs, fast!', '1': 'Two cats |||  sleeping.' };
const refs = { '1': ['Two cats sleep on a bed.', 'cats sleeping'], '2': ['A dog is running.'] };

describe('COCO METEOR through METEOR 1.5 (stand-in java)', () => {
  beforeEach(() => {
    rmSync(log, { force: true });
    resetMeteorWarning();
  });

  it('runs the jar with pycocoevalcap arguments and protocol and adds METEOR', () => {
    const s = scoreCaptions(preds, refs, { meteorJar: jar, java, perImage: true });
    expect(Object.keys(s)).toEqual(['Bleu_1', 'Bleu_2', 'Bleu_3', 'Bleu_4', 'METEOR', 'ROUGE_L', 'CIDEr', 'perImage']);
    const calls = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { argv: string[]; cwd: string; lc: string; input: string });
    expect(calls).toHaveLength(2);
    for (const c of calls) {
      expect(c.argv).toEqual(['-jar', '-Xmx2G', jar, '-', '-', '-stdio', '-l', 'en', '-norm']);
      expect(c.cwd).toBe(dir);
      expect(c.lc).toBe('C');
    }
    // PTB-tokenized captions (the tokenizer drops '|'), images in id order
    expect(calls[0].input).toBe(
      'SCORE ||| two cats sleep on a bed ||| cats sleeping ||| two cats sleeping\nSCORE ||| a dog is running ||| a dog runs fast\n',
    );
    expect(calls[1].input).toBe('EVAL ||| 2 3 ||| 1 4\n');
    expect(s.METEOR).toBeCloseTo(0.07, 12);
    expect(s.perImage?.['2'].METEOR).toBeCloseTo(0.4, 12);
    expect(s.perImage?.['1'].METEOR).toBeCloseTo(0.3, 12);
  });

  it('takes the jar from METEOR_JAR', () => {
    const old = process.env.METEOR_JAR;
    process.env.METEOR_JAR = jar;
    try {
      const s = scoreCaptions(preds, refs, { java, metrics: ['METEOR'] });
      expect(Object.keys(s)).toEqual(['METEOR']);
    } finally {
      if (old === undefined) delete process.env.METEOR_JAR;
      else process.env.METEOR_JAR = old;
    }
  });

  it('leaves METEOR out and warns once per process when no jar or no Java is available', () => {
    const old = process.env.METEOR_JAR;
    delete process.env.METEOR_JAR;
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      const a = scoreCaptions(preds, refs);
      const b = scoreCaptions(preds, refs, { meteorJar: join(dir, 'missing.jar') });
      const c = scoreCaptions(preds, refs, { meteorJar: jar, java: join(dir, 'no-such-java') });
      for (const s of [a, b, c]) expect('METEOR' in s).toBe(false);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0][0])).toMatch(/METEOR left out.*METEOR 1\.5/);
    } finally {
      warn.mockRestore();
      if (old !== undefined) process.env.METEOR_JAR = old;
    }
  });

  it('does not warn when METEOR was not asked for', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      scoreCaptions(preds, refs, { metrics: ['Bleu', 'CIDEr'] });
      expect(warn).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
    }
  });
});
