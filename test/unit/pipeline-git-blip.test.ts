// pipeline('image-to-text', dir) on the GIT and BLIP fixture folders: the class, image processor and tokenizer
// come from the folder alone; captions of the fixture photos (and with HF's `prompt`) are the reference's; a
// VisionEncoderDecoder refuses a prompt; `torch-caption caption --prompt` prints the same captions.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect, it } from 'vitest';
import { InvalidArgumentError } from '../../lib/errors.js';
import { native } from '../../lib/native.js';
import { BlipForConditionalGeneration } from '../../lib/models/blip.js';
import { GitForCausalLM } from '../../lib/models/git.js';
import { pipeline } from '../../lib/pipeline.js';
import { describeWithFixtures } from '../helpers/fixtures.js';

interface GenCase { name: string; expected_text: string[]; prompt?: string; pixel_index: number[]; pixel_tensor?: string; settings: Record<string, unknown> }

const bin = resolve(__dirname, '..', '..', 'bin', 'torch-caption.js');

describeWithFixtures('pipeline on GIT and BLIP folders', (fixtures) => {
  const meta = (name: string): { generation: GenCase[]; photos: { file: string; index: number }[] } =>
    JSON.parse(readFileSync(join(fixtures, 'models', `${name}.cases.json`), 'utf8'));

  it('BLIP: the folder picks the class and processors; photo captions, unprompted and prompted, are the reference', async () => {
    const dir = join(fixtures, 'models', 'blip-tiny');
    const m = meta('blip-tiny');
    const captioner = await pipeline('image-to-text', dir);
    expect(captioner.model).toBeInstanceOf(BlipForConditionalGeneration);
    let checked = 0;
    for (const c of m.generation.filter((g) => /^photo(_prompt)?_greedy_\d$/.test(g.name))) {
      const photo = m.photos.find((p) => p.index === c.pixel_index[0])!;
      const path = join(fixtures, 'images', photo.file);
      const out = await captioner(path, { ...c.settings, ...(c.prompt ? { prompt: c.prompt } : {}) });
      expect(out.map((o) => o.generated_text), c.name).toEqual(c.expected_text);
      checked++;
    }
    expect(checked).toBe(6);
  });

  it('GIT: a prompt continues the text, kept at the start; lists batch', async () => {
    const dir = join(fixtures, 'models', 'git-tiny');
    const m = meta('git-tiny');
    const captioner = await pipeline('image-to-text', dir);
    expect(captioner.model).toBeInstanceOf(GitForCausalLM);
    const cases = (await native().readSafetensors(join(fixtures, 'models', 'git-tiny.cases.safetensors'))).tensors;
    const images = cases.images_uint8!;
    const raw = (i: number) => ({ data: Uint8Array.from((images.data as Uint8Array).subarray(i * 32 * 32 * 3, (i + 1) * 32 * 32 * 3)), width: 32, height: 32, channels: 3 as const });
    const c = m.generation.find((g) => g.name === 'prefix_greedy_batched')!;
    const out = await captioner([raw(0), raw(1), raw(2)], { ...c.settings, prompt: c.prompt! });
    expect(out.map((o) => o.generated_text)).toEqual(c.expected_text);
    for (const o of out) expect(o.generated_text.startsWith('a blue')).toBe(true);
  });

  it('a VisionEncoderDecoder refuses a prompt with the reason', async () => {
    const captioner = await pipeline('image-to-text', join(fixtures, 'models', 'vit-gpt2-tiny'));
    const photo = join(fixtures, 'images', 'flower.jpg');
    await expect(captioner(photo, { prompt: 'a picture of' })).rejects.toThrow(InvalidArgumentError);
    await expect(captioner(photo, { prompt: 'a picture of' })).rejects.toThrow(/does not support conditional captioning/);
  });

  it('torch-caption caption --prompt prints the reference captions', () => {
    const dir = join(fixtures, 'models', 'blip-tiny');
    const m = meta('blip-tiny');
    const c = m.generation.find((g) => g.name === 'photo_prompt_greedy_1')!;
    const photo = join(fixtures, 'images', m.photos.find((p) => p.index === 1)!.file);
    const r = spawnSync(process.execPath, [bin, 'caption', '--model', dir, '--prompt', 'a picture of', '--json', photo], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim())).toEqual({ image: photo, caption: c.expected_text[0] });
  });
});
