/**
 * The data item every source produces and every op passes on.
 */

/**
 * Decoded pixels handed straight to the image processor, skipping file decoding: 8-bit samples,
 * interleaved (HWC, row-major), `data.length === width * height * channels`. The synthetic shapes
 * set produces these (channels 3, RGB).
 */
export interface RawImage {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 2 | 3 | 4;
}

/** What an item's `image` may be: a file path, encoded bytes (JPEG/PNG/WebP/...), or raw pixels. */
export type ItemImage = string | Buffer | Uint8Array | RawImage;

/**
 * One dataset item: an image and its reference captions.
 *
 * `error`, when a source sets it, marks an entry the source could not read (e.g. a malformed JSONL
 * line): the loader skips the item and counts it under that reason. Extra fields pass through.
 */
export interface DataItem {
  id: string;
  image: ItemImage;
  captions: string[];
  error?: string;
}

/** True for a {data, width, height, channels} raw-pixel object. */
export function isRawImage(value: unknown): value is RawImage {
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return false;
  const v = value as Partial<RawImage>;
  return v.data instanceof Uint8Array && typeof v.width === 'number' && typeof v.height === 'number'
    && typeof v.channels === 'number';
}
