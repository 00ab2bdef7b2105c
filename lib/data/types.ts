/**
 * The data item every source produces and every op passes on.
 */
import type { ImageInput } from '../types.js';

// The image types live in lib/types.ts (one name per concept); re-exported here for lib/data's users.
export { isRawImage, type ImageInput, type RawImage } from '../types.js';

/**
 * What an item's `image` may be: a file path, encoded bytes (JPEG/PNG/WebP/...; a Buffer is a Uint8Array),
 * or raw pixels. The same type as ImageInput (lib/types.ts), kept under its lib/data name.
 */
export type ItemImage = ImageInput;

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
