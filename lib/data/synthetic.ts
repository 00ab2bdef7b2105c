/**
 * The synthetic "shapes" set: images of one to three flat coloured shapes on a black background,
 * each with exact captions. Item i depends only on (seed, i), so any item is generated on its own
 * (random access, O(1) resume), and pixels are rasterized straight into an RGB Uint8Array only when
 * first read (iterating ids and captions costs no rendering).
 *
 * Caption grammar (the first caption is the canonical one, always in this template order):
 *   one shape:     "a {size} {colour} {shape}"
 *   two, side by side: "a {left} to the left of a {right}"
 *   two, stacked:  "a {top} above a {bottom}"
 *   three in a row: "three shapes: a {left}, a {middle} and a {right}"
 * where {size} is small|large. Other phrasings ("... to the right of ...", "... below ...",
 * "two shapes: ...", "there is a ...") follow as extra references.
 */
import { expected } from '../errors.js';
import { Dataset } from './dataset.js';
import type { DatasetNode, RandomAccess } from './node.js';
import { hashInts, Rng, toSeed } from './random.js';
import type { DataItem, RawImage } from './types.js';

export const SHAPE_COLORS: Readonly<Record<string, readonly [number, number, number]>> = Object.freeze({
  red: [230, 30, 30],
  green: [30, 200, 60],
  blue: [40, 90, 255],
  yellow: [245, 230, 30],
  purple: [165, 50, 225],
  orange: [255, 140, 0],
  white: [240, 240, 240],
  cyan: [30, 220, 230],
});

export type ShapeKind = 'circle' | 'square' | 'triangle' | 'diamond' | 'star';
export const SHAPE_KINDS: readonly ShapeKind[] = ['circle', 'square', 'triangle', 'diamond', 'star'];

export const DEFAULT_COLORS: readonly string[] = ['red', 'green', 'blue', 'yellow', 'purple', 'orange'];
export const DEFAULT_SHAPES: readonly ShapeKind[] = ['circle', 'square', 'triangle', 'diamond'];

export type ShapeSize = 'small' | 'large';
export type SceneLayout = 'single' | 'horizontal' | 'vertical' | 'row';

export interface Shape {
  kind: ShapeKind;
  color: string;
  size: ShapeSize;
  /** Centre and radius in pixels. */
  cx: number;
  cy: number;
  r: number;
}

export interface Scene {
  layout: SceneLayout;
  /** Shapes in caption order: left to right, or top to bottom. */
  shapes: Shape[];
}

export interface SyntheticOptions {
  /** Number of items. Default 1000. */
  size?: number;
  /** Seed; item i depends only on (seed, i). Default 0. */
  seed?: number;
  /** Width and height of the square images in pixels. Default 64. */
  imageSize?: number;
  /** Colour names (keys of SHAPE_COLORS). Default red, green, blue, yellow, purple, orange. */
  colors?: readonly string[];
  /** Shape kinds. Default circle, square, triangle, diamond ('star' available). */
  shapes?: readonly ShapeKind[];
  /** Most shapes per image, 1 to 3. Default 3. */
  maxShapes?: number;
}

export interface SyntheticItem extends DataItem {
  image: RawImage;
  scene: Scene;
}

const SMALL = 0.085;
const LARGE = 0.15;
const ROW_SCALE = 0.8;

/** Raw RGB image rendered on first access of `data`. */
class LazyRaster implements RawImage {
  declare readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly channels = 3 as const;
  constructor(size: number, scene: Scene) {
    this.width = size;
    this.height = size;
    let cached: Uint8Array | undefined;
    Object.defineProperty(this, 'data', {
      enumerable: true,
      get: () => (cached ??= renderScene(scene, size)),
    });
  }
}

function phrase(s: Shape): string {
  return `${s.size} ${s.color} ${s.kind}`;
}

/** Captions of a scene; the first is the canonical one. */
export function sceneCaptions(scene: Scene): string[] {
  const p = scene.shapes.map(phrase);
  switch (scene.layout) {
    case 'single':
      return [`a ${p[0]}`, `there is a ${p[0]}`, `a ${p[0]} on a black background`, `one ${p[0]}`];
    case 'horizontal':
      return [
        `a ${p[0]} to the left of a ${p[1]}`,
        `a ${p[1]} to the right of a ${p[0]}`,
        `two shapes: a ${p[0]} and a ${p[1]}`,
        `a ${p[0]} and a ${p[1]} side by side`,
      ];
    case 'vertical':
      return [
        `a ${p[0]} above a ${p[1]}`,
        `a ${p[1]} below a ${p[0]}`,
        `two shapes: a ${p[0]} and a ${p[1]}`,
        `a ${p[0]} on top of a ${p[1]}`,
      ];
    case 'row':
      return [
        `three shapes: a ${p[0]}, a ${p[1]} and a ${p[2]}`,
        `a ${p[0]}, a ${p[1]} and a ${p[2]} from left to right`,
        `a ${p[1]} between a ${p[0]} and a ${p[2]}`,
        `three shapes in a row: a ${p[0]}, a ${p[1]} and a ${p[2]}`,
      ];
  }
}

export interface ResolvedSyntheticOptions {
  size: number;
  seed: number;
  imageSize: number;
  colors: readonly string[];
  shapes: readonly ShapeKind[];
  maxShapes: number;
}

function resolveOptions(options: SyntheticOptions): ResolvedSyntheticOptions {
  if (options === null || typeof options !== 'object') expected('an options object', 'datasets.synthetic', options);
  const size = options.size ?? 1000;
  if (!Number.isInteger(size) || size < 0) expected('a non-negative integer', 'synthetic size', size);
  const seed = options.seed ?? 0;
  if (typeof seed !== 'number' || !Number.isFinite(seed)) expected('a finite number', 'synthetic seed', seed);
  const imageSize = options.imageSize ?? 64;
  if (!Number.isInteger(imageSize) || imageSize < 16 || imageSize > 4096) expected('an integer from 16 to 4096', 'synthetic imageSize', imageSize);
  const colors = options.colors ?? DEFAULT_COLORS;
  if (!Array.isArray(colors) || colors.length === 0 || colors.some((c) => typeof c !== 'string' || !(c in SHAPE_COLORS))) {
    expected(`a non-empty array of colour names from ${Object.keys(SHAPE_COLORS).join(', ')}`, 'synthetic colors', colors);
  }
  const shapes = options.shapes ?? DEFAULT_SHAPES;
  if (!Array.isArray(shapes) || shapes.length === 0 || shapes.some((s) => !SHAPE_KINDS.includes(s))) {
    expected(`a non-empty array of shape kinds from ${SHAPE_KINDS.join(', ')}`, 'synthetic shapes', shapes);
  }
  const maxShapes = options.maxShapes ?? 3;
  if (maxShapes !== 1 && maxShapes !== 2 && maxShapes !== 3) expected('1, 2 or 3', 'synthetic maxShapes', maxShapes);
  return { size, seed, imageSize, colors: [...colors], shapes: [...shapes], maxShapes };
}

function clamp(v: number, lo: number, hi: number): number {
  return lo > hi ? (lo + hi) / 2 : Math.min(hi, Math.max(lo, v));
}

/** The scene of item `index` (no pixels). */
export function generateScene(index: number, options: SyntheticOptions = {}): Scene {
  return makeScene(index, resolveOptions(options));
}

function makeScene(index: number, o: ResolvedSyntheticOptions): Scene {
  const rng = new Rng(hashInts(toSeed(o.seed), index >>> 0, Math.floor(index / 4294967296), 0x5ca1ab1e));
  const S = o.imageSize;
  const u = rng.next();
  let layout: SceneLayout;
  if (o.maxShapes === 1) layout = 'single';
  else if (o.maxShapes === 2) layout = u < 0.4 ? 'single' : u < 0.7 ? 'horizontal' : 'vertical';
  else layout = u < 0.3 ? 'single' : u < 0.55 ? 'horizontal' : u < 0.8 ? 'vertical' : 'row';
  const n = layout === 'single' ? 1 : layout === 'row' ? 3 : 2;
  const scale = layout === 'row' ? ROW_SCALE : 1; // three across must fit
  const base = Array.from({ length: n }, () => {
    const size: ShapeSize = rng.next() < 0.5 ? 'small' : 'large';
    const r = S * scale * (size === 'small' ? SMALL : LARGE) * rng.range(0.94, 1.06);
    return { kind: rng.pick(o.shapes), color: rng.pick(o.colors), size, r };
  });
  const m = 1; // margin in pixels
  const shapes: Shape[] = [];
  if (layout === 'single') {
    const s = base[0]!;
    const e = s.r * 1.2; // extent: triangles and stars reach 1.2 r
    shapes.push({ ...s, cx: rng.range(e + m, S - e - m), cy: rng.range(e + m, S - e - m) });
  } else if (layout === 'horizontal' || layout === 'vertical') {
    const ext = Math.max(base[0]!.r, base[1]!.r) * 1.2;
    const across = rng.range(ext + m, S - ext - m); // shared coordinate on the other axis
    const jitter = 0.04 * S;
    base.forEach((s, k) => {
      const e = s.r * 1.2;
      const lo = k === 0 ? e + m : S / 2 + e;
      const hi = k === 0 ? S / 2 - e : S - e - m;
      const along = clamp(rng.range(lo, hi), lo, hi);
      const other = clamp(across + rng.range(-jitter, jitter), e + m, S - e - m);
      shapes.push(layout === 'horizontal' ? { ...s, cx: along, cy: other } : { ...s, cx: other, cy: along });
    });
  } else {
    const ext = Math.max(...base.map((s) => s.r)) * 1.2;
    const y0 = rng.range(ext + m, S - ext - m);
    const jitter = 0.05 * S;
    base.forEach((s, k) => {
      const e = s.r * 1.2;
      const lo = (k * S) / 3 + e;
      const hi = ((k + 1) * S) / 3 - e;
      shapes.push({ ...s, cx: clamp(rng.range(lo, hi), lo, hi), cy: clamp(y0 + rng.range(-jitter, jitter), e + m, S - e - m) });
    });
  }
  return { layout, shapes };
}

function fillSpan(data: Uint8Array, S: number, y: number, x0: number, x1: number, rgb: readonly [number, number, number]): void {
  if (y < 0 || y >= S) return;
  const a = Math.max(0, x0);
  const b = Math.min(S - 1, x1);
  const [r, g, bl] = rgb;
  for (let i = (y * S + a) * 3, end = (y * S + b) * 3; i <= end; i += 3) {
    data[i] = r;
    data[i + 1] = g;
    data[i + 2] = bl;
  }
}

/** Fill a polygon (even-odd rule) by scanlines through pixel centres. */
function fillPolygon(data: Uint8Array, S: number, xs: number[], ys: number[], rgb: readonly [number, number, number]): void {
  const n = xs.length;
  const y0 = Math.max(0, Math.floor(Math.min(...ys)));
  const y1 = Math.min(S - 1, Math.ceil(Math.max(...ys)));
  const hits: number[] = [];
  for (let y = y0; y <= y1; y++) {
    const py = y + 0.5;
    hits.length = 0;
    for (let i = 0, j = n - 1; i < n; j = i++) {
      const ya = ys[i]!;
      const yb = ys[j]!;
      if ((ya <= py) !== (yb <= py)) hits.push(xs[i]! + ((py - ya) / (yb - ya)) * (xs[j]! - xs[i]!));
    }
    hits.sort((a, b) => a - b);
    for (let k = 0; k + 1 < hits.length; k += 2) {
      fillSpan(data, S, y, Math.ceil(hits[k]! - 0.5), Math.floor(hits[k + 1]! - 0.5), rgb);
    }
  }
}

function drawShape(data: Uint8Array, S: number, s: Shape): void {
  const rgb = SHAPE_COLORS[s.color]!;
  const { cx, cy, r } = s;
  switch (s.kind) {
    case 'circle': {
      for (let y = Math.floor(cy - r); y <= Math.ceil(cy + r); y++) {
        const dy = y + 0.5 - cy;
        if (Math.abs(dy) > r) continue;
        const hw = Math.sqrt(r * r - dy * dy);
        fillSpan(data, S, y, Math.ceil(cx - hw - 0.5), Math.floor(cx + hw - 0.5), rgb);
      }
      return;
    }
    case 'square': {
      const h = r * 0.86;
      const x0 = Math.ceil(cx - h - 0.5);
      const x1 = Math.floor(cx + h - 0.5);
      for (let y = Math.ceil(cy - h - 0.5); y <= Math.floor(cy + h - 0.5); y++) fillSpan(data, S, y, x0, x1, rgb);
      return;
    }
    case 'diamond': {
      const R = r * 1.15;
      for (let y = Math.floor(cy - R); y <= Math.ceil(cy + R); y++) {
        const hw = R - Math.abs(y + 0.5 - cy);
        if (hw < 0) continue;
        fillSpan(data, S, y, Math.ceil(cx - hw - 0.5), Math.floor(cx + hw - 0.5), rgb);
      }
      return;
    }
    case 'triangle': {
      // Equilateral, pointing up, inscribed in a circle of radius 1.2 r.
      const R = r * 1.2;
      const top = cy - R;
      const base = cy + R / 2;
      const halfBase = (R * Math.sqrt(3)) / 2;
      for (let y = Math.floor(top); y <= Math.ceil(base); y++) {
        const py = y + 0.5;
        if (py < top || py > base) continue;
        const hw = ((py - top) / (base - top)) * halfBase;
        fillSpan(data, S, y, Math.ceil(cx - hw - 0.5), Math.floor(cx + hw - 0.5), rgb);
      }
      return;
    }
    case 'star': {
      const outer = r * 1.2;
      const inner = outer * 0.45;
      const xs: number[] = [];
      const ys: number[] = [];
      for (let k = 0; k < 10; k++) {
        const a = -Math.PI / 2 + (k * Math.PI) / 5;
        const rad = k % 2 === 0 ? outer : inner;
        xs.push(cx + rad * Math.cos(a));
        ys.push(cy + rad * Math.sin(a));
      }
      fillPolygon(data, S, xs, ys, rgb);
      return;
    }
  }
}

/** Rasterize a scene into a new RGB Uint8Array (black background, no anti-aliasing). */
export function renderScene(scene: Scene, imageSize: number): Uint8Array {
  const data = new Uint8Array(imageSize * imageSize * 3);
  for (const s of scene.shapes) drawShape(data, imageSize, s);
  return data;
}

function makeItem(index: number, o: ResolvedSyntheticOptions): SyntheticItem {
  if (!Number.isInteger(index) || index < 0 || index >= o.size) {
    expected(`an integer in [0, ${o.size - 1}]`, 'synthetic item index', index);
  }
  const scene = makeScene(index, o);
  return {
    id: `shapes-${o.seed}-${index}`,
    image: new LazyRaster(o.imageSize, scene),
    captions: sceneCaptions(scene),
    scene,
  };
}

class SyntheticNode implements DatasetNode<SyntheticItem> {
  constructor(private readonly o: ResolvedSyntheticOptions) {}
  async access(): Promise<RandomAccess<SyntheticItem>> {
    return { length: this.o.size, get: async (i) => makeItem(i, this.o) };
  }
  async size(): Promise<number> {
    return this.o.size;
  }
  async *stream(_ctx: unknown, start: number): AsyncGenerator<SyntheticItem, void, undefined> {
    for (let i = Math.max(0, start); i < this.o.size; i++) yield makeItem(i, this.o);
  }
}

/** The shapes dataset; `item(i)` generates any item directly. */
export class SyntheticDataset extends Dataset<SyntheticItem> {
  readonly options: Readonly<ResolvedSyntheticOptions>;
  constructor(options: SyntheticOptions = {}) {
    const resolved = Object.freeze(resolveOptions(options));
    super(new SyntheticNode(resolved));
    this.options = resolved;
  }

  /** Number of items. */
  get length(): number {
    return this.options.size;
  }

  /** Item i (0 <= i < size): {id, image (RawImage rendered on first read of data), captions, scene}. */
  item(index: number): SyntheticItem {
    return makeItem(index, this.options);
  }
}

/** The synthetic shapes set (see the module comment for the caption grammar). */
export function synthetic(options: SyntheticOptions = {}): SyntheticDataset {
  return new SyntheticDataset(options);
}
