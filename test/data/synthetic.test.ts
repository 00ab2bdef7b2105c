import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { datasets, generateScene, renderScene, SHAPE_COLORS, type SyntheticItem } from '../../lib/data/index.js';
import { InvalidArgumentError } from '../../lib/errors.js';

function pixel(item: SyntheticItem, x: number, y: number): number[] {
  const { data, width } = item.image;
  const i = (Math.round(y) * width + Math.round(x)) * 3;
  return [data[i]!, data[i + 1]!, data[i + 2]!];
}

describe('datasets.synthetic', () => {
  it('is deterministic by (seed, index) and random-access', async () => {
    const a = datasets.synthetic({ size: 200, seed: 7 });
    const b = datasets.synthetic({ size: 200, seed: 7 });
    const all = await a.toArray();
    expect(all).toHaveLength(200);
    for (const i of [0, 1, 57, 199]) {
      const x = b.item(i);
      expect(x.id).toBe(all[i]!.id);
      expect(x.captions).toEqual(all[i]!.captions);
      expect(Buffer.from(x.image.data).equals(Buffer.from(all[i]!.image.data))).toBe(true);
      expect((await b.get(i)).captions).toEqual(x.captions);
    }
    // a different seed gives different scenes
    const c = datasets.synthetic({ size: 200, seed: 8 });
    const same = all.filter((x, i) => x.captions[0] === c.item(i).captions[0]).length;
    expect(same).toBeLessThan(40);
    expect(await a.size()).toBe(200);
    expect(await a.hasRandomAccess()).toBe(true);
  });

  it('items are raw RGB images of the requested size on a black background', () => {
    const ds = datasets.synthetic({ size: 50, seed: 1, imageSize: 48 });
    for (let i = 0; i < 50; i++) {
      const it = ds.item(i);
      expect(it.image.width).toBe(48);
      expect(it.image.height).toBe(48);
      expect(it.image.channels).toBe(3);
      expect(it.image.data).toBeInstanceOf(Uint8Array);
      expect(it.image.data.length).toBe(48 * 48 * 3);
      expect(pixel(it, 0, 0)).toEqual([0, 0, 0]);
      // spreading the object keeps the pixels (data is an enumerable property)
      expect({ ...it.image }.data.length).toBe(48 * 48 * 3);
    }
  });

  it('draws each shape in its colour at its centre and nothing else but black', () => {
    const ds = datasets.synthetic({ size: 300, seed: 3, imageSize: 64, shapes: ['circle', 'square', 'triangle', 'diamond', 'star'] });
    for (let i = 0; i < 300; i++) {
      const it = ds.item(i);
      const colours = new Set(it.scene.shapes.map((s) => SHAPE_COLORS[s.color]!.join()));
      colours.add('0,0,0');
      for (const s of it.scene.shapes) {
        expect(pixel(it, s.cx - 0.5, s.cy - 0.5)).toEqual([...SHAPE_COLORS[s.color]!]);
        expect(s.cx - s.r).toBeGreaterThan(0);
        expect(s.cx + s.r).toBeLessThan(64);
      }
      const d = it.image.data;
      let stray = 0;
      let lit = 0;
      for (let p = 0; p < d.length; p += 3) {
        if (!colours.has(`${d[p]},${d[p + 1]},${d[p + 2]}`)) stray++;
        if (d[p] || d[p + 1] || d[p + 2]) lit++;
      }
      expect(stray).toBe(0);
      // each shape covers roughly its area (no anti-aliasing, so +-40%)
      const area = it.scene.shapes.reduce((a, s) => a + Math.PI * s.r * s.r, 0);
      expect(lit / area).toBeGreaterThan(0.5);
      expect(lit / area).toBeLessThan(1.4);
    }
  });

  it('captions follow the fixed grammar and match the scene', () => {
    const ds = datasets.synthetic({ size: 500, seed: 11 });
    const size = '(small|large)';
    const colour = '(red|green|blue|yellow|purple|orange)';
    const kind = '(circle|square|triangle|diamond)';
    const obj = `a ${size} ${colour} ${kind}`;
    const canonical = new RegExp(`^(${obj}|${obj} to the left of ${obj}|${obj} above ${obj}|three shapes: ${obj}, ${obj} and ${obj})$`);
    const layouts = new Set<string>();
    const vocab = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const it = ds.item(i);
      layouts.add(it.scene.layout);
      expect(it.captions[0]).toMatch(canonical);
      expect(it.captions.length).toBeGreaterThanOrEqual(3);
      expect(new Set(it.captions).size).toBe(it.captions.length);
      for (const c of it.captions) c.replace(/[:,]/g, '').split(' ').forEach((w) => vocab.add(w));
      const [first, second] = it.scene.shapes;
      if (it.scene.layout === 'horizontal') {
        expect(first!.cx).toBeLessThan(second!.cx);
        expect(Math.abs(first!.cy - second!.cy)).toBeLessThan(Math.abs(first!.cx - second!.cx));
        expect(it.captions).toContain(`a ${second!.size} ${second!.color} ${second!.kind} to the right of a ${first!.size} ${first!.color} ${first!.kind}`);
      }
      if (it.scene.layout === 'vertical') {
        expect(first!.cy).toBeLessThan(second!.cy);
        expect(Math.abs(first!.cx - second!.cx)).toBeLessThan(Math.abs(first!.cy - second!.cy));
        expect(it.captions[1]).toContain(' below ');
      }
      if (it.scene.layout === 'row') {
        const xs = it.scene.shapes.map((s) => s.cx);
        expect(xs).toEqual([...xs].sort((p, q) => p - q));
      }
      for (const s of it.scene.shapes) expect(it.captions[0]).toContain(`${s.size} ${s.color} ${s.kind}`);
    }
    expect(layouts).toEqual(new Set(['single', 'horizontal', 'vertical', 'row']));
    expect(vocab.size).toBeLessThan(45); // a small, learnable vocabulary
  });

  it('large shapes are larger than small ones', () => {
    const ds = datasets.synthetic({ size: 400, seed: 2, imageSize: 100 });
    for (const rowLayout of [false, true]) {
      let maxSmall = 0;
      let minLarge = Infinity;
      for (let i = 0; i < 400; i++) {
        const scene = ds.item(i).scene;
        if ((scene.layout === 'row') !== rowLayout) continue;
        for (const s of scene.shapes) {
          if (s.size === 'small') maxSmall = Math.max(maxSmall, s.r);
          else minLarge = Math.min(minLarge, s.r);
        }
      }
      expect(minLarge / maxSmall).toBeGreaterThan(1.5);
    }
  });

  it('shapes never overlap and stay inside the image (property)', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 1e6 }), fc.integer({ min: 0, max: 2 ** 31 }), fc.integer({ min: 16, max: 256 }),
      (seed, index, imageSize) => {
        const scene = generateScene(index % 1e6, { seed, imageSize, size: 1e6, shapes: ['circle', 'square', 'triangle', 'diamond', 'star'] });
        for (const s of scene.shapes) {
          expect(s.cx - s.r * 1.2).toBeGreaterThanOrEqual(-0.5);
          expect(s.cx + s.r * 1.2).toBeLessThanOrEqual(imageSize + 0.5);
          expect(s.cy - s.r * 1.2).toBeGreaterThanOrEqual(-0.5);
          expect(s.cy + s.r * 1.2).toBeLessThanOrEqual(imageSize + 0.5);
        }
        for (let a = 0; a < scene.shapes.length; a++) {
          for (let b = a + 1; b < scene.shapes.length; b++) {
            const p = scene.shapes[a]!;
            const q = scene.shapes[b]!;
            expect(Math.hypot(p.cx - q.cx, p.cy - q.cy)).toBeGreaterThan(p.r + q.r);
          }
        }
        expect(renderScene(scene, imageSize).length).toBe(imageSize * imageSize * 3);
      }), { numRuns: 300 });
  });

  it('renders thousands of images per second', () => {
    const ds = datasets.synthetic({ size: 100_000, seed: 5, imageSize: 64 });
    const t0 = performance.now();
    let sum = 0;
    for (let i = 0; i < 5000; i++) sum += ds.item(i).image.data[0]!;
    const perSec = 5000 / ((performance.now() - t0) / 1000);
    expect(sum).toBeGreaterThanOrEqual(0);
    expect(perSec).toBeGreaterThan(2000);
  });

  it('rejects bad options and indices', () => {
    expect(() => datasets.synthetic({ size: -1 })).toThrow(InvalidArgumentError);
    expect(() => datasets.synthetic({ imageSize: 4 })).toThrow(/imageSize/);
    expect(() => datasets.synthetic({ colors: ['mauve'] })).toThrow(/colou?r/);
    expect(() => datasets.synthetic({ maxShapes: 4 })).toThrow(/maxShapes/);
    expect(() => datasets.synthetic({ size: 3 }).item(3)).toThrow(InvalidArgumentError);
    const one = datasets.synthetic({ size: 30, maxShapes: 1 });
    for (let i = 0; i < 30; i++) expect(one.item(i).scene.layout).toBe('single');
  });
});
