import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { readSafetensors, readSafetensorsHeader, writeSafetensors } from '../../lib/models/safetensors.js';
import { Tensor } from '../../lib/tensor.js';
import { describeWithFixtures } from '../helpers/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'tc-st-'));

/** Build a safetensors file by hand: header JSON (padded) + data. */
function file(header: unknown, data: Uint8Array | number = 0, rawHeader?: string): string {
  const json = Buffer.from(rawHeader ?? JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const body = typeof data === 'number' ? new Uint8Array(data) : data;
  const p = join(dir, `f${Math.random().toString(36).slice(2)}.safetensors`);
  writeFileSync(p, Buffer.concat([len, json, body]));
  return p;
}

describe('safetensors', () => {
  it('round-trips every dtype, with metadata', async () => {
    const p = join(dir, 'rt.safetensors');
    const tensors = {
      a: Tensor.from(Float32Array.of(1, 2.5, -3, 4), [2, 2]),
      b: Tensor.from(BigInt64Array.of(-1n, 2n ** 50n), [2]),
      c: Tensor.from(Int32Array.of(7), [1]),
      d: Tensor.from(Uint8Array.of(1, 0, 1), [3], 'bool'),
      'with space and "quote"': Tensor.from(new Float32Array(0), [0, 3]),
    };
    await writeSafetensors(p, tensors, { format: 'pt', note: 'ünïcode' });
    const back = await readSafetensors(p);
    expect(back.metadata).toEqual({ format: 'pt', note: 'ünïcode' });
    for (const [k, t] of Object.entries(tensors)) {
      expect(back.tensors[k]!.shape).toEqual(t.shape);
      expect(Array.from(back.tensors[k]!.data as ArrayLike<unknown>)).toEqual(Array.from(t.data as ArrayLike<unknown>));
    }
    const bytes = readFileSync(p);
    expect(Number(bytes.readBigUInt64LE(0)) % 8).toBe(0); // 8-byte aligned data
  });

  it('reads F16/BF16 as float32', async () => {
    // 1.0 in f16 = 0x3c00, in bf16 = 0x3f80; -2.0 f16 = 0xc000, bf16 = 0xc000
    const data = Buffer.from([0x00, 0x3c, 0x00, 0xc0, 0x80, 0x3f, 0x00, 0xc0]);
    const p = file({ h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] }, b: { dtype: 'BF16', shape: [2], data_offsets: [4, 8] } }, data);
    const { tensors } = await readSafetensors(p);
    expect(Array.from(tensors.h!.data as Float32Array)).toEqual([1, -2]);
    expect(Array.from(tensors.b!.data as Float32Array)).toEqual([1, -2]);
  });

  const malformed: [string, () => string, RegExp][] = [
    ['empty header', () => file(null, 0, ''), /header JSON ends|shorter/],
    ['empty file', () => { const p = join(dir, 'empty'); writeFileSync(p, ''); return p; }, /shorter than the 8-byte/],
    ['header length past EOF', () => { const p = join(dir, 'short'); const b = Buffer.alloc(16); b.writeBigUInt64LE(1000n); writeFileSync(p, b); return p; }, /runs past the end/],
    ['absurd header length', () => { const p = join(dir, 'huge'); const b = Buffer.alloc(16); b.writeBigUInt64LE(2n ** 60n); writeFileSync(p, b); return p; }, /100 MB limit/],
    ['non-JSON header', () => file(null, 0, '{not json'), /header JSON/],
    ['header not an object', () => file([1, 2]), /not a JSON object/],
    ['offsets out of bounds', () => file({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, 4), /past the end|trailing|data bytes/],
    ['overlapping tensors', () => file({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8), /overlaps/],
    ['hole in the data', () => file({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8), /hole/],
    ['shape/size mismatch', () => file({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8), /need 12/],
    ['unknown dtype', () => file({ a: { dtype: 'F8', shape: [1], data_offsets: [0, 1] } }, 1), /unsupported dtype/],
    ['duplicate names', () => file(null, 4, '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'), /duplicate name/],
    ['negative dimension', () => file(null, 4, '{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}'), /negative/],
    ['absurd dimensions', () => file({ a: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 4] } }, 4), /absurdly large|bad dimension|need/],
    ['float offsets', () => file(null, 4, '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4.0]}}'), /non-integer/],
    ['deep nesting', () => file(null, 0, '{"__metadata__":' + '['.repeat(100) + ']'.repeat(100) + '}'), /nests too deeply/],
  ];
  for (const [name, make, message] of malformed) {
    it(`rejects a malformed file: ${name}`, async () => {
      await expect(readSafetensors(make())).rejects.toThrow(message);
    });
  }

  it('never crashes on random bytes (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 256 }), fc.string({ maxLength: 120 }), async (bytes, text) => {
        const p1 = join(dir, 'rand1');
        writeFileSync(p1, bytes);
        const p2 = file(null, bytes, text);
        for (const p of [p1, p2]) {
          try {
            await readSafetensorsHeader(p);
          } catch (err) {
            expect((err as Error).message).toMatch(/safetensors|header|JSON|length|bytes/);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('round-trips random tensors (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.float({ noNaN: true }), { maxLength: 50 }), fc.array(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), { maxLength: 20 }), async (floats, ints) => {
        const p = join(dir, 'prop.safetensors');
        await writeSafetensors(p, { f: Tensor.from(Float32Array.from(floats), [floats.length]), i: Tensor.from(BigInt64Array.from(ints), [ints.length]) });
        const back = await readSafetensors(p);
        expect(Array.from(back.tensors.f!.data as Float32Array)).toEqual(Array.from(Float32Array.from(floats)));
        expect(Array.from(back.tensors.i!.data as BigInt64Array)).toEqual(ints);
      }),
      { numRuns: 50 },
    );
  });
});

describeWithFixtures('safetensors: fixture model files', (fixtures) => {
  for (const name of ['vit-gpt2-tiny', 'swin-gpt2-tiny']) {
    it(`${name}: names, shapes and a value checksum agree with the file`, async () => {
      const path = join(fixtures, 'models', name, 'model.safetensors');
      const header = await readSafetensorsHeader(path);
      const { tensors } = await readSafetensors(path);
      const raw = readFileSync(path);
      const dataStart = 8 + Number(raw.readBigUInt64LE(0));
      const headerJson = JSON.parse(raw.subarray(8, dataStart).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
      const names = Object.keys(headerJson).filter((k) => k !== '__metadata__').sort();
      expect(Object.keys(tensors).sort()).toEqual(names);
      expect(header.map((h) => h.name).sort()).toEqual(names);
      for (const n of names) {
        const h = headerJson[n]!;
        expect(tensors[n]!.shape).toEqual(h.shape);
        // checksum of the bytes we decoded vs the bytes in the file, computed here independently
        const bytes = raw.subarray(dataStart + h.data_offsets[0], dataStart + h.data_offsets[1]);
        const t = tensors[n]!;
        const ours = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
        expect(createHash('sha256').update(ours).digest('hex'), n).toBe(createHash('sha256').update(bytes).digest('hex'));
      }
      expect(names).toContain('decoder.transformer.wte.weight');
      expect(names).not.toContain('decoder.lm_head.weight');
    });
  }
});
