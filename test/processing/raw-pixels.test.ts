// Raw decoded pixels (as the synthetic dataset yields) give the same pixel_values as the same pixels
// encoded losslessly as PNG and decoded with PIL semantics.
import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { ImageProcessor } from '../../lib/processing/index.js';

const proc = ImageProcessor.fromConfig({ size: { height: 16, width: 16 }, resample: 3, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5] });

function pixels(w: number, h: number, c: number): Uint8Array {
  return Uint8Array.from({ length: w * h * c }, (_, i) => (i * 37 + (i % 7) * 11) & 255);
}

describe('ImageProcessor with raw pixels', () => {
  for (const channels of [1, 2, 3, 4] as const) {
    it(`${channels} channel(s): equal to the PNG path`, async () => {
      const data = pixels(23, 17, channels);
      const png = await sharp(Buffer.from(data), { raw: { width: 23, height: 17, channels } }).png().toBuffer();
      const a = await proc.preprocess({ data, width: 23, height: 17, channels });
      const b = await proc.preprocess(png);
      expect(a.shape).toEqual([1, 3, 16, 16]);
      expect(Array.from(a.data)).toEqual(Array.from(b.data));
    });
  }

  it('mixes raw and encoded inputs in one batch and rejects a wrong byte count', async () => {
    const data = pixels(8, 8, 3);
    const png = await sharp(Buffer.from(data), { raw: { width: 8, height: 8, channels: 3 } }).png().toBuffer();
    const t = await proc.preprocess([{ data, width: 8, height: 8, channels: 3 }, png]);
    expect(Array.from(t.data.subarray(0, 768))).toEqual(Array.from(t.data.subarray(768)));
    await expect(proc.preprocess({ data: new Uint8Array(10), width: 8, height: 8, channels: 3 })).rejects.toThrow(/Expected 192 bytes/);
  });
});
