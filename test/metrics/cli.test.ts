import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { registerScore } from '../../lib/cli/score.js';
import { EXIT_FAILED, EXIT_USAGE, reportError } from '../../lib/cli/common.js';
import { scoreCaptions } from '../../lib/metrics/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tc-score-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const refs = {
  '1': ['A man riding a wave on top of a surfboard.', 'A surfer riding a large wave in the ocean.'],
  '2': ['Two dogs playing with a frisbee in a park.', 'two brown dogs running on the grass'],
};
const preds = { '1': 'a man riding a wave on a surfboard', '2': 'two dogs play in the park' };
const write = (name: string, value: unknown): string => {
  const p = join(dir, name);
  writeFileSync(p, typeof value === 'string' ? value : JSON.stringify(value));
  return p;
};
const mapsPreds = write('preds.json', preds);
const mapsRefs = write('refs.json', refs);
const cocoPreds = write('results.json', Object.entries(preds).map(([id, caption]) => ({ image_id: Number(id), caption })));
const cocoRefs = write('annotations.json', {
  images: [{ id: 1 }, { id: 2 }],
  annotations: Object.entries(refs).flatMap(([id, rs]) => rs.map((caption, k) => ({ image_id: Number(id), id: k, caption }))),
});

/** Runs `score ...` in-process; resolves to stdout and the exit code main.ts would return. */
async function runCli(args: string[]): Promise<{ out: string; code: number; error?: unknown; err: string }> {
  let out = '';
  let err = '';
  const program = new Command('torch-caption').exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  registerScore(program, { stdout: (s) => (out += s), stderr: (s) => (err += s) });
  for (const cmd of program.commands) cmd.exitOverride();
  try {
    await program.parseAsync(['node', 'torch-caption', 'score', ...args]);
    return { out, code: 0, err };
  } catch (error) {
    if (error instanceof CommanderError) return { out, code: EXIT_USAGE, error, err };
    const write = process.stderr.write;
    process.stderr.write = () => true;
    try {
      return { out, code: reportError(error), error, err };
    } finally {
      process.stderr.write = write;
    }
  }
}

describe('torch-caption score', () => {
  const expected = scoreCaptions(preds, refs, { metrics: ['Bleu', 'ROUGE_L', 'CIDEr'] });

  it('prints one JSON object as the last stdout line with --json', async () => {
    for (const [p, r] of [
      [mapsPreds, mapsRefs],
      [cocoPreds, cocoRefs],
    ]) {
      const { out, code } = await runCli(['--predictions', p, '--references', r, '--json']);
      expect(code).toBe(0);
      const last = out.trimEnd().split('\n').pop() as string;
      const parsed = JSON.parse(last) as Record<string, number>;
      for (const [k, v] of Object.entries(expected)) expect(parsed[k]).toBeCloseTo(v as number, 12);
      expect('METEOR' in parsed).toBe(false);
    }
  });

  it('prints a readable table, with per-image rows on request', async () => {
    const { out, code } = await runCli(['--predictions', mapsPreds, '--references', mapsRefs]);
    expect(code).toBe(0);
    expect(out).toMatch(/^metric\s+score$/m);
    expect(out).toMatch(new RegExp(`^CIDEr\\s+${expected.CIDEr.toFixed(4)}$`, 'm'));
    const per = await runCli(['--predictions', mapsPreds, '--references', mapsRefs, '--per-image']);
    expect(per.out).toMatch(/^image_id\s+Bleu_1/m);
    expect(per.out).toMatch(/^2\s+\d\.\d{4}/m);
    const json = await runCli(['--predictions', mapsPreds, '--references', mapsRefs, '--per-image', '--json']);
    const parsed = JSON.parse(json.out.trim().split('\n').pop() as string) as { perImage: Record<string, unknown> };
    expect(Object.keys(parsed.perImage)).toEqual(['1', '2']);
  });

  it('exits 2 on bad usage and 1 on a failed job, with one readable error line', async () => {
    const missingOpt = await runCli(['--predictions', mapsPreds]);
    expect(missingOpt.code).toBe(EXIT_USAGE);
    const noFile = await runCli(['--predictions', join(dir, 'nope.json'), '--references', mapsRefs]);
    expect(noFile.code).toBe(EXIT_USAGE);
    expect(String((noFile.error as Error).message)).toMatch(/--predictions.*no such file/);
    const badJson = await runCli(['--predictions', write('bad.json', '{nope'), '--references', mapsRefs]);
    expect(badJson.code).toBe(EXIT_FAILED);
    expect(String((badJson.error as Error).message)).toMatch(/does not parse/);
    const wrongShape = await runCli(['--predictions', write('num.json', '42'), '--references', mapsRefs]);
    expect(wrongShape.code).toBe(EXIT_USAGE);
    const noRefs = await runCli(['--predictions', write('other.json', { '9': 'a cat' }), '--references', mapsRefs]);
    expect(noRefs.code).toBe(EXIT_USAGE);
    expect(String((noRefs.error as Error).message)).toMatch(/image_id 9/);
    for (const r of [noFile, badJson, wrongShape, noRefs]) expect(String((r.error as Error).message)).not.toMatch(/\n/);
  });

  it('--references takes a Karpathy split file (dataset_coco.json) and COCO annotations (captions_val2014.json), and says which it read', async () => {
    // what the Python user scores against: the Karpathy file of all splits, predictions for the test images
    const karpathy = write('dataset_coco.json', {
      dataset: 'coco',
      images: [
        ...Object.entries(refs).map(([id, rs]) => ({ filepath: 'val2014', filename: `COCO_val2014_${id}.jpg`, cocoid: Number(id), split: 'test', sentences: rs.map((raw) => ({ raw, tokens: raw.toLowerCase().split(' ') })) })),
        { filepath: 'train2014', filename: 'COCO_train2014_7.jpg', cocoid: 7, split: 'train', sentences: [{ raw: 'A train image.', tokens: ['a', 'train', 'image'] }] },
      ],
    });
    const k = await runCli(['--predictions', cocoPreds, '--references', karpathy, '--json']);
    expect(k.code).toBe(0);
    const parsed = JSON.parse(k.out.trim().split('\n').pop()!) as Record<string, number>;
    for (const [key, v] of Object.entries(expected)) expect(parsed[key]).toBeCloseTo(v as number, 12);
    expect(k.err).toMatch(/Karpathy split file of coco \(dataset_coco\.json style\): 3 images, 5 captions/);
    // Flickr: imgid ids, no filepath
    const flickr = write('dataset_flickr8k.json', { dataset: 'flickr8k', images: Object.entries(refs).map(([id, rs]) => ({ filename: `${id}.jpg`, imgid: Number(id), split: 'test', sentences: rs.map((raw) => ({ raw })) })) });
    const f = await runCli(['--predictions', mapsPreds, '--references', flickr, '--json']);
    expect(f.code).toBe(0);
    expect(JSON.parse(f.out.trim().split('\n').pop()!).CIDEr).toBeCloseTo(expected.CIDEr, 12);
    // a COCO captions file with the whole annotation list, and today's map
    const c = await runCli(['--predictions', cocoPreds, '--references', cocoRefs, '--json']);
    expect(c.code).toBe(0);
    expect(c.err).toMatch(/COCO annotations \(captions_val2014\.json style\): 2 images, 4 captions/);
    const m = await runCli(['--predictions', mapsPreds, '--references', mapsRefs]);
    expect(m.err).toMatch(/a map \{id: \[captions\]\} of 2 images/);
    expect(m.out).toMatch(/^CIDEr/m);
    expect(m.out).not.toMatch(/Karpathy|COCO annotations/); // stdout keeps only the scores
  });

  it('says a missing or bad references file plainly (no doubled codes, no [object Object])', async () => {
    const missing = await runCli(['--predictions', mapsPreds, '--references', join(dir, 'missing.json')]);
    expect(missing.code).toBe(EXIT_USAGE);
    const bad = await runCli(['--predictions', mapsPreds, '--references', write('bad-refs.json', '{"1": [')]);
    expect(bad.code).toBe(EXIT_FAILED);
    for (const r of [missing, bad]) {
      const msg = String((r.error as Error).message);
      expect(msg).toMatch(/--references/);
      expect(msg).not.toMatch(/\b([A-Z]{3,}): \1\b|object Object/);
    }
  });
});

