import { describe, expect, it } from 'vitest';
import { datasets, isRawImage, type ItemImage } from '../../lib/data/index.js';
import { Tensor } from '../../lib/tensor.js';
import { realTokenizer } from './helpers.js';

const MB = 1024 * 1024;

describe('memory while streaming', () => {
  it('stays bounded over 50k synthetic items (pixels rendered and read)', async () => {
    const ds = datasets.synthetic({ size: 50_000, seed: 1, imageSize: 64 })
      .shuffle({ seed: 2, buffer_size: 1000 })
      .map((x) => ({ ...x, captions: x.captions.slice(0, 2) }));
    const rss0 = process.memoryUsage().rss;
    let peak = rss0;
    let n = 0;
    let lit = 0;
    const t0 = performance.now();
    for await (const item of ds) {
      const d = item.image.data; // renders 64*64*3 bytes
      for (let i = 0; i < d.length; i += 97) lit += d[i]! > 0 ? 1 : 0;
      if (++n % 5000 === 0) peak = Math.max(peak, process.memoryUsage().rss);
    }
    const seconds = (performance.now() - t0) / 1000;
    expect(n).toBe(50_000);
    expect(lit).toBeGreaterThan(0);
    // 50k images are 600 MB of pixels: growth far below that means nothing is retained
    expect((peak - rss0) / MB).toBeLessThan(150);
    expect(seconds).toBeLessThan(8);
  });

  it('stays bounded through the loader (cheap processor, 10k items)', async () => {
    // a processor that takes raw pixels and returns them as float32 [1,3,16,16] without sharp
    const proc = {
      async preprocess(input: ItemImage | ItemImage[]): Promise<Tensor> {
        const img = Array.isArray(input) ? input[0]! : input;
        if (!isRawImage(img)) throw new Error('raw only');
        const out = new Float32Array(3 * 16 * 16);
        const step = img.width / 16;
        for (let c = 0; c < 3; c++) {
          for (let y = 0; y < 16; y++) {
            for (let x = 0; x < 16; x++) out[c * 256 + y * 16 + x] = img.data[(Math.floor(y * step) * img.width + Math.floor(x * step)) * 3 + c]! / 255;
          }
        }
        return Tensor.from(out, [1, 3, 16, 16]);
      },
    };
    const ds = datasets.synthetic({ size: 10_000, seed: 3, imageSize: 128 }) // 490 MB of pixels if retained.shuffle({ seed: 1 });
    const loader = ds.batches({ batch_size: 64, max_length: 24, imageProcessor: proc, tokenizer: await realTokenizer(), prefetch: 4, concurrency: 4 });
    const rss0 = process.memoryUsage().rss;
    let peak = rss0;
    let rows = 0;
    for await (const b of loader) {
      rows += b.ids.length;
      peak = Math.max(peak, process.memoryUsage().rss);
    }
    expect(rows).toBe(10_000);
    expect(loader.state().epoch).toBe(1);
    expect((peak - rss0) / MB).toBeLessThan(150);
  });
});
