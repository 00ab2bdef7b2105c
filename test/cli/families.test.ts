// `torch-caption caption --model DIR` on the DeiT-BERT, CLIP-RoBERTa, BEiT-GPT2, GIT and BLIP fixture folders, through the
// built CLI (dist/): the captions are generate + decode(skip_special_tokens), and the fixture's greedy captions.
import { expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describeWithFixtures } from '../helpers/fixtures.js';
import { readSafetensors } from '../../lib/models/safetensors.js';
import { AutoModelForVision2Seq } from '../../lib/models/auto.js';
import { ImageProcessor, loadTokenizer } from '../../lib/processing/index.js';

const bin = join(__dirname, '..', '..', 'bin', 'torch-caption.js');
const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000 });

describeWithFixtures('torch-caption caption on each model family', (fixtures) => {
  for (const name of ['deit-bert-tiny', 'clip-roberta-tiny', 'beit-gpt2-tiny', 'git-tiny', 'blip-tiny']) {
    it(`${name}: captions equal generate + decode and the fixture's greedy captions`, async () => {
      const model = join(fixtures, 'models', name);
      const dir = mkdtempSync(join(tmpdir(), 'tc-cli-family-'));
      try {
        // The fixture's case images as lossless PNGs (already at the model size), plus real photos.
        const { tensors } = await readSafetensors(join(fixtures, 'models', `${name}.cases.safetensors`));
        const [n, h, w] = tensors.images_uint8!.shape as [number, number, number, number];
        const all = Uint8Array.from(tensors.images_uint8!.data as Int32Array);
        for (let i = 0; i < n; i++) {
          await sharp(all.subarray(i * h * w * 3, (i + 1) * h * w * 3), { raw: { width: w, height: h, channels: 3 } }).png().toFile(join(dir, `case${i}.png`));
        }
        for (const f of ['china.jpg', 'flower.jpg']) copyFileSync(join(fixtures, 'images', f), join(dir, f));
        const r = cli('caption', '--model', model, '--json', dir);
        expect(r.status, r.stderr).toBe(0);
        const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { image: string; caption: string });
        const files = [...Array.from({ length: n }, (_, i) => `case${i}.png`), 'china.jpg', 'flower.jpg']; // sorted, as the CLI lists a folder
        expect(lines.map((l) => l.image.split('/').pop())).toEqual(files);

        const json = JSON.parse(readFileSync(join(fixtures, 'models', `${name}.cases.json`), 'utf8')) as { generation: { name: string; pixel_index: number[]; expected_text: string[] }[] };
        const greedy = json.generation.filter((g) => /^greedy_\d+$/.test(g.name));
        expect(greedy.length).toBeGreaterThan(0);
        for (const g of greedy) expect(lines[g.pixel_index[0]!]!.caption, g.name).toBe(g.expected_text[0]);

        const m = await AutoModelForVision2Seq.fromPretrained(model);
        const proc = await ImageProcessor.fromPretrained(model);
        const tok = await loadTokenizer(model);
        const { sequences } = await m.generate(await proc.preprocess(files.map((f) => join(dir, f))));
        expect(lines.map((l) => l.caption)).toEqual(sequences.map((s) => tok.decode(s, { skip_special_tokens: true }).trim()));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
