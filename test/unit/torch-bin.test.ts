// pytorch_model.bin (torch.save zip) through the restricted unpickler: files laid out exactly as
// torch.save writes a state dict (made by test/helpers/make_torch_bin.py without torch), shared
// storages with offsets, a pickle that tries to run code, and broken archives.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyConfig } from '../../lib/models/config.js';
import { readWeights, VisionEncoderDecoder } from '../../lib/models/vision-encoder-decoder.js';
import { Tensor } from '../../lib/tensor.js';

const root = mkdtempSync(join(tmpdir(), 'tc-bin-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const script = join(import.meta.dirname, '..', 'helpers', 'make_torch_bin.py');

let reference: VisionEncoderDecoder;
let st: string;

/** A model folder with config.json and a pytorch_model.bin made in `mode`. */
function binFolder(name: string, mode = ''): string {
  const dir = join(root, name);
  mkdirSync(dir);
  copyFileSync(join(st, 'config.json'), join(dir, 'config.json'));
  execFileSync('python3', [script, join(st, 'model.safetensors'), join(dir, 'pytorch_model.bin'), ...(mode ? [mode] : [])]);
  return dir;
}

const px = Tensor.from(Float32Array.from({ length: 2 * 3 * 32 * 32 }, (_, i) => Math.cos(i * 0.07)), [2, 3, 32, 32]);
async function logits(m: VisionEncoderDecoder): Promise<Float32Array> {
  return (await m.forward({ pixel_values: px, labels: Tensor.int64([[5, 6, 7], [8, 9, 99]]) })).logits!.data as Float32Array;
}

beforeAll(async () => {
  reference = await VisionEncoderDecoder.fromConfig(tinyConfig({ vocabSize: 100 }), { seed: 11 });
  st = join(root, 'st');
  await reference.save(st);
});

describe('pytorch_model.bin', () => {
  it('loads a torch.save state dict (OrderedDict with _metadata) with the same numbers as model.safetensors', async () => {
    const m = await VisionEncoderDecoder.fromPretrained(binFolder('plain'));
    expect(await logits(m)).toEqual(await logits(reference));
  });

  it('reads tensors that are offset views into one shared storage', async () => {
    const dir = binFolder('shared', '--shared');
    const m = await VisionEncoderDecoder.fromPretrained(dir);
    expect(await logits(m)).toEqual(await logits(reference));
    const raw = await readWeights(join(dir, 'pytorch_model.bin'));
    const fromSt = await readWeights(join(st, 'model.safetensors'));
    expect(Object.keys(raw).sort()).toEqual(Object.keys(fromSt).sort());
  });

  it('refuses a pickle that calls anything but the tensor rebuild functions, and runs nothing', async () => {
    const dir = binFolder('evil', '--evil');
    await expect(VisionEncoderDecoder.fromPretrained(dir)).rejects.toThrow(/refusing to load posix\.system: only a state dict of tensors can be read.*safetensors/);
  });

  it('names broken archives and storages', async () => {
    const dir = binFolder('broken');
    const file = join(dir, 'pytorch_model.bin');
    const bytes = readFileSync(file);
    writeFileSync(file, bytes.subarray(0, bytes.length >> 1));
    await expect(VisionEncoderDecoder.fromPretrained(dir)).rejects.toThrow(/is not a torch.save zip archive.*Convert it to model.safetensors/);
    writeFileSync(file, Buffer.from('not a zip at all'));
    await expect(readWeights(file)).rejects.toThrow(/not a torch.save zip archive/);
  });
});
