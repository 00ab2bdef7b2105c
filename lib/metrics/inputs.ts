/**
 * Input formats accepted by the caption metrics, normalised to aligned lists of
 * `{ id, prediction, references }`.
 *
 * Predictions:
 * - COCO results: `[{ image_id, caption }]` (what pycocotools `loadRes` reads);
 * - a map `{ id: caption }` (also `{ id: [caption] }`, pycocoevalcap's `res` layout), or a `Map`;
 * - a plain list of captions `string[]` (then references must be a list in the same order).
 * References:
 * - COCO annotations: `{ annotations: [{ image_id, caption }], ... }` or just the annotation list;
 * - a map `{ id: [ref, ...] }` (also `{ id: ref }` and `{ id: [{ caption }] }`, pycocoevalcap's
 *   `gts` layout), or a `Map`;
 * - a list `string[][]` (or `string[]`, one reference each) aligned with a list of predictions.
 */
import { describe, InvalidArgumentError } from '../errors.js';

export type ImageId = string | number;

/** One prediction in the COCO results format. */
export interface CocoResult {
  image_id: ImageId;
  caption: string;
}

/** One reference in the COCO annotations format. */
export interface CocoAnnotation {
  image_id: ImageId;
  caption: string;
  id?: number;
}

/** A COCO captions annotation file (`captions_val2014.json` and the like). */
export interface CocoAnnotationsFile {
  annotations: readonly CocoAnnotation[];
  images?: readonly unknown[];
  [key: string]: unknown;
}

export type PredictionsInput =
  | readonly string[]
  | readonly CocoResult[]
  | Readonly<Record<string, string | readonly string[]>>
  | ReadonlyMap<ImageId, string | readonly string[]>;

export type ReferencesInput =
  | readonly (string | readonly string[])[]
  | CocoAnnotationsFile
  | readonly CocoAnnotation[]
  | Readonly<Record<string, string | readonly (string | { caption: string })[]>>
  | ReadonlyMap<ImageId, string | readonly (string | { caption: string })[]>;

/** Predictions and references aligned image by image. */
export interface AlignedCaptions {
  ids: string[];
  predictions: string[];
  references: string[][];
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function captionOf(v: unknown, where: string): string {
  if (typeof v === 'string') return v;
  if (isRecord(v) && typeof v.caption === 'string') return v.caption;
  throw new InvalidArgumentError(`Expected a caption string for ${where} but received ${describe(v)}`);
}

function imageIdOf(v: unknown, where: string): string {
  if (typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))) return String(v);
  throw new InvalidArgumentError(`Expected a string or number image_id for ${where} but received ${describe(v)}`);
}

/** Predictions keyed by image id (insertion order kept), or a plain list. */
function readPredictions(p: unknown): { list: string[] } | { byId: Map<string, string> } {
  if (Array.isArray(p)) {
    if (p.every((x) => typeof x === 'string')) return { list: p as string[] };
    const byId = new Map<string, string>();
    p.forEach((r: unknown, i: number) => {
      if (!isRecord(r) || !('image_id' in r)) {
        throw new InvalidArgumentError(
          `Expected a caption string or a COCO result {image_id, caption} for predictions[${i}] but received ${describe(r)}`,
        );
      }
      const id = imageIdOf(r.image_id, `predictions[${i}].image_id`);
      if (byId.has(id)) {
        throw new InvalidArgumentError(
          `Expected one prediction per image for predictions but received two for image_id ${id} (COCO evaluation scores exactly one caption per image)`,
        );
      }
      byId.set(id, captionOf(r.caption, `predictions[${i}].caption`));
    });
    return { byId };
  }
  const entries: Array<[unknown, unknown]> =
    p instanceof Map ? [...p.entries()] : isRecord(p) ? Object.entries(p) : [];
  if (!(p instanceof Map) && !isRecord(p)) {
    throw new InvalidArgumentError(
      `Expected a list of captions, COCO results [{image_id, caption}] or a map {id: caption} for predictions but received ${describe(p)}`,
    );
  }
  const byId = new Map<string, string>();
  for (const [k, v] of entries) {
    const id = imageIdOf(k, 'a predictions key');
    if (Array.isArray(v)) {
      if (v.length !== 1) {
        throw new InvalidArgumentError(
          `Expected exactly one prediction for image ${id} but received ${describe(v)} (COCO evaluation scores one caption per image)`,
        );
      }
      byId.set(id, captionOf(v[0], `predictions[${JSON.stringify(id)}][0]`));
    } else {
      byId.set(id, captionOf(v, `predictions[${JSON.stringify(id)}]`));
    }
  }
  return { byId };
}

function refList(v: unknown, where: string): string[] {
  if (Array.isArray(v)) return v.map((x: unknown, j: number) => captionOf(x, `${where}[${j}]`));
  return [captionOf(v, where)];
}

function readReferences(r: unknown): { list: string[][] } | { byId: Map<string, string[]> } {
  let annotations: unknown[] | null = null;
  if (isRecord(r) && Array.isArray(r.annotations)) annotations = r.annotations;
  else if (Array.isArray(r) && r.length > 0 && r.every((x) => isRecord(x) && 'image_id' in x)) annotations = r;
  if (annotations !== null) {
    const byId = new Map<string, string[]>();
    annotations.forEach((a: unknown, i: number) => {
      if (!isRecord(a)) {
        throw new InvalidArgumentError(`Expected a COCO annotation {image_id, caption} for annotations[${i}] but received ${describe(a)}`);
      }
      const id = imageIdOf(a.image_id, `annotations[${i}].image_id`);
      const cap = captionOf(a.caption, `annotations[${i}].caption`);
      const list = byId.get(id);
      if (list) list.push(cap);
      else byId.set(id, [cap]);
    });
    return { byId };
  }
  if (Array.isArray(r)) return { list: r.map((v: unknown, i: number) => refList(v, `references[${i}]`)) };
  if (r instanceof Map || isRecord(r)) {
    const entries: Array<[unknown, unknown]> = r instanceof Map ? [...r.entries()] : Object.entries(r);
    const byId = new Map<string, string[]>();
    for (const [k, v] of entries) {
      const id = imageIdOf(k, 'a references key');
      byId.set(id, refList(v, `references[${JSON.stringify(id)}]`));
    }
    return { byId };
  }
  throw new InvalidArgumentError(
    `Expected COCO annotations {annotations: [...]}, a map {id: [captions]} or a list of reference lists for references but received ${describe(r)}`,
  );
}

/**
 * Align predictions with their references. Every prediction needs at least one reference; references
 * of images without a prediction are ignored (COCO evaluates the images of the results file).
 */
export function alignCaptions(predictions: unknown, references: unknown): AlignedCaptions {
  const p = readPredictions(predictions);
  const r = readReferences(references);
  const ids: string[] = [];
  const preds: string[] = [];
  const refs: string[][] = [];
  if ('list' in p) {
    if (!('list' in r)) {
      throw new InvalidArgumentError(
        'Expected a list of reference lists (aligned by position) for references when predictions is a list of strings but received a map or COCO annotations; give predictions as {id: caption} or COCO results instead',
      );
    }
    if (p.list.length !== r.list.length) {
      throw new InvalidArgumentError(
        `Expected ${p.list.length} reference lists (one per prediction) for references but received array of length ${r.list.length}`,
      );
    }
    p.list.forEach((c, i) => {
      ids.push(String(i));
      preds.push(c);
      refs.push(r.list[i]);
    });
  } else {
    if ('list' in r) {
      throw new InvalidArgumentError(
        'Expected COCO annotations or a map {id: [captions]} for references when predictions are keyed by image id but received a plain list',
      );
    }
    for (const [id, c] of p.byId) {
      const rs = r.byId.get(id);
      if (rs === undefined) {
        throw new InvalidArgumentError(
          `Expected references for every predicted image for references but received none for image_id ${id}`,
        );
      }
      ids.push(id);
      preds.push(c);
      refs.push(rs);
    }
  }
  refs.forEach((rs, i) => {
    if (rs.length === 0) {
      throw new InvalidArgumentError(`Expected at least one reference for image ${ids[i]} but received an empty list`);
    }
  });
  return { ids, predictions: preds, references: refs };
}
