/**
 * Image decoding with sharp to raw interleaved RGB uint8, with the semantics of PIL's
 * `Image.open(f).convert('RGB')` (Pillow 9.4), which is what Hugging Face image processors start from:
 * - alpha is dropped, never composited (transparent pixels keep their stored RGB);
 * - grayscale becomes R = G = B; palette images become their palette colours;
 * - 16-bit RGB / gray+alpha keep the high byte; 16-bit grayscale without alpha (PIL mode "I") is clipped
 *   to 0..255 as PIL's I -> RGB conversion does;
 * - CMYK uses PIL's naive formula on the raw (non-inverted) samples: R = (255 - K) - round((255 - K) * C / 255);
 * - embedded ICC profiles are ignored (PIL does not apply them);
 * - EXIF orientation is ignored unless `autoOrient` is set.
 *
 * With `convertToRgb` (processors whose config sets `do_convert_rgb`: CLIP, BLIP, ...) decoding follows
 * transformers' `convert_to_rgb` instead for images with an alpha channel: an RGB image is unchanged, any other
 * mode goes to RGBA and is alpha-composited over opaque white with Pillow's `alpha_composite` integer arithmetic
 * (see compositeOverWhite), then to RGB. Images without alpha give the same bytes either way.
 */
import { readFile } from 'node:fs/promises';
import sharp, { type KernelEnum, type Metadata, type Sharp, type SharpOptions } from 'sharp';
import { FormatError, InvalidArgumentError } from '../errors.js';
import type { ImageSource } from '../types.js';

/**
 * A sharp resize kernel (sharp's `keyof KernelEnum`), spelled out here so that the package's declarations do not
 * import sharp's types (consumers compiling with skipLibCheck: false then need nothing from sharp).
 */
export type ResizeKernel = 'nearest' | 'cubic' | 'linear' | 'mitchell' | 'lanczos2' | 'lanczos3' | 'mks2013' | 'mks2021';
// Compile-time check that ResizeKernel is exactly sharp's kernel names.
type SameKeys<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const RESIZE_KERNEL_MATCHES_SHARP: SameKeys<ResizeKernel, keyof KernelEnum> = true;
void RESIZE_KERNEL_MATCHES_SHARP;

/** sharp's default pixel limit (0x3FFF * 0x3FFF). */
export const DEFAULT_LIMIT_INPUT_PIXELS = 268402689;

export interface DecodeOptions {
  /** Apply the EXIF Orientation tag (PIL and Hugging Face do not). Default false. */
  autoOrient?: boolean;
  /** Refuse images with more pixels than this (false: no limit). Default 268402689, as sharp. */
  limitInputPixels?: number | false;
  /**
   * transformers' `convert_to_rgb` (the `do_convert_rgb` step of CLIP, BLIP, ... processors): alpha is composited
   * over opaque white, as Pillow's `alpha_composite` does. Default false: PIL `convert('RGB')`, alpha dropped.
   */
  convertToRgb?: boolean;
}

/** Decoded image: interleaved RGB bytes, rows packed. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** How an input is named in error messages. */
export function describeInput(input: ImageSource, index?: number): string {
  if (typeof input === 'string') return input;
  const where = index === undefined ? 'image' : `image ${index}`;
  return `${where} (${input.constructor?.name ?? 'Uint8Array'} of ${input.byteLength} bytes)`;
}

async function readInput(input: ImageSource, label: string): Promise<Buffer> {
  if (typeof input === 'string') {
    try {
      return await readFile(input);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new InvalidArgumentError(
        `Expected a readable image file for ${label} but received string ${JSON.stringify(input)} (${e.code && !e.message.startsWith(e.code) ? `${e.code}: ` : ''}${e.message})`,
        { cause: err },
      );
    }
  }
  if (input instanceof Uint8Array) {
    return Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  }
  throw new InvalidArgumentError(`Expected a file path, Buffer or Uint8Array for ${label} but received ${typeof input}`);
}

function decodeError(label: string, err: unknown): FormatError {
  const msg = (err instanceof Error ? err.message : String(err)).split('\n')[0];
  return new FormatError(`Cannot decode image ${label}: ${msg}`, { cause: err });
}

/** PIL's cmyk2rgb: nk = 255 - K; out = clip(nk - MULDIV255(c, nk)) with MULDIV255 rounding. */
export function cmykToRgb(cmyk: Uint8Array, pixels: number): Uint8Array {
  const out = new Uint8Array(pixels * 3);
  for (let i = 0; i < pixels; i++) {
    const nk = 255 - cmyk[i * 4 + 3]!;
    for (let c = 0; c < 3; c++) {
      const t = cmyk[i * 4 + c]! * nk + 128;
      const v = nk - (((t >> 8) + t) >> 8);
      out[i * 3 + c] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return out;
}

/**
 * Pillow's `Image.alpha_composite(white, rgba)` followed by `convert('RGB')`, on interleaved pixels with
 * `channels` = 4 (RGBA) or 2 (gray + alpha, which PIL's LA -> RGBA makes R = G = B = L). The background has
 * alpha 255, so Pillow's AlphaComposite.c reduces to: a = 0 -> the background (255); otherwise, with 7 bits of
 * precision, coef1 = a * 128 and coef2 = (255 - a) * 128, tmp = v * coef1 + 255 * coef2, and the output is
 * `SHIFTFORDIV255(tmp + (0x80 << 7)) >> 7` where `SHIFTFORDIV255(x) = ((x >> 8) + x) >> 8`. An opaque pixel keeps
 * its value.
 */
export function compositeOverWhite(src: Uint8Array, pixels: number, channels: 2 | 4): Uint8Array {
  const out = new Uint8Array(pixels * 3);
  // Pillow's general formula with dst = (255, 255, 255, 255); kept in that form so it reads against AlphaComposite.c.
  const blendOf = (a: number, v: number): number => {
    const outa255 = a * 255 + 255 * (255 - a);
    const coef1 = Math.floor((a * 255 * 255 * 128) / outa255);
    const coef2 = 255 * 128 - coef1;
    const tmp = v * coef1 + 255 * coef2 + (0x80 << 7);
    return (((tmp >>> 8) + tmp) >>> 8) >>> 7;
  };
  for (let i = 0; i < pixels; i++) {
    const o = i * 3;
    const a = src[i * channels + channels - 1]!;
    if (a === 0) {
      out[o] = 255; out[o + 1] = 255; out[o + 2] = 255;
    } else if (channels === 4) {
      out[o] = blendOf(a, src[i * 4]!); out[o + 1] = blendOf(a, src[i * 4 + 1]!); out[o + 2] = blendOf(a, src[i * 4 + 2]!);
    } else {
      const g = blendOf(a, src[i * 2]!);
      out[o] = g; out[o + 1] = g; out[o + 2] = g;
    }
  }
  return out;
}

/** What decodeRgb needs to know before decoding: size, and whether the PIL-specific CMYK / 16-bit-gray paths apply. */
interface Header {
  width: number;
  height: number;
  kind: 'cmyk' | 'gray16' | 'rgb';
  /**
   * PNG colour type 2 (truecolour): PIL opens it as mode RGB even with a tRNS chunk, so convert_to_rgb leaves it
   * alone, whereas libvips turns the tRNS colour into an alpha channel.
   */
  pngTruecolour?: boolean;
}

/**
 * Read the header of a JPEG (SOFn: size and component count) or PNG (IHDR: size, bit depth, colour type) without
 * decoding; null for other formats or anything unexpected (sharp's metadata() is used then).
 */
export function sniffHeader(buf: Uint8Array): Header | null {
  const n = buf.length;
  if (n >= 24 && buf[0] === 0x89 && buf[1] === 0x50 && buf[2] === 0x4e && buf[3] === 0x47 && buf[12] === 0x49 && buf[13] === 0x48 && buf[14] === 0x44 && buf[15] === 0x52) {
    const dv = new DataView(buf.buffer, buf.byteOffset, n);
    const width = dv.getUint32(16);
    const height = dv.getUint32(20);
    const bitDepth = buf[24];
    const colourType = buf[25];
    if (!width || !height || bitDepth === undefined || colourType === undefined) return null;
    const kind = bitDepth === 16 && colourType === 0 ? 'gray16' : 'rgb';
    return colourType === 2 ? { width, height, kind, pngTruecolour: true } : { width, height, kind };
  }
  if (n >= 4 && buf[0] === 0xff && buf[1] === 0xd8) {
    let i = 2;
    while (i + 4 <= n) {
      if (buf[i] !== 0xff) return null;
      const marker = buf[i + 1]!;
      if (marker === 0xff) {
        i++; // fill byte
        continue;
      }
      if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
        i += 2;
        continue;
      }
      if (marker === 0xd9 || marker === 0xda) return null; // EOI / SOS before any SOF
      const len = (buf[i + 2]! << 8) | buf[i + 3]!;
      if (len < 2) return null;
      const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
      if (isSof) {
        if (i + 10 > n) return null;
        const height = (buf[i + 5]! << 8) | buf[i + 6]!;
        const width = (buf[i + 7]! << 8) | buf[i + 8]!;
        const comps = buf[i + 9]!;
        if (!width || !height) return null;
        return { width, height, kind: comps === 4 ? 'cmyk' : 'rgb' };
      }
      i += 2 + len;
    }
  }
  return null;
}

/** An input read and inspected, ready to decode. */
interface Prepared {
  buf: Buffer;
  header: Header;
  sharpOpts: SharpOptions;
  label: string;
  jpeg: boolean;
  /** convert_to_rgb semantics (alpha composited over white) instead of convert('RGB'). */
  convertToRgb: boolean;
}

async function prepare(input: ImageSource, opts: DecodeOptions, label: string): Promise<Prepared> {
  const buf = await readInput(input, label);
  const limit = opts.limitInputPixels ?? DEFAULT_LIMIT_INPUT_PIXELS;
  const sharpOpts: SharpOptions = {
    failOn: 'error', // truncated or corrupt data fails, as PIL does; libjpeg warnings do not
    limitInputPixels: false, // checked below so that the message names the file
    ignoreIcc: true,
    autoOrient: opts.autoOrient === true,
  };
  let header = sniffHeader(buf);
  if (header === null) {
    let meta: Metadata;
    try {
      meta = await sharp(buf, sharpOpts).metadata();
    } catch (err) {
      throw decodeError(label, err);
    }
    if (!meta.width || !meta.height) throw new FormatError(`Cannot decode image ${label}: no image dimensions in the file`);
    const kind = meta.space === 'cmyk' ? 'cmyk' : meta.space === 'grey16' && !meta.hasAlpha && meta.channels === 1 ? 'gray16' : 'rgb';
    header = { width: meta.width, height: meta.height, kind };
  }
  const { width: w, height: h } = header;
  if (limit !== false && w * h > limit) {
    throw new InvalidArgumentError(
      `Expected an image of at most ${limit} pixels (limitInputPixels) for ${label} but received ${w}x${h} = ${w * h} pixels`,
    );
  }
  return { buf, header, sharpOpts, label, jpeg: buf[0] === 0xff && buf[1] === 0xd8, convertToRgb: opts.convertToRgb === true };
}

/** Decode one image to RGB uint8 with PIL `convert('RGB')` semantics. */
/** Runs a sharp pipeline to 8-bit sRGB samples, checking that exactly three channels come out. */
async function rawRgb(pipeline: Sharp): Promise<RgbImage> {
  const { data, info } = await pipeline.toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`expected 3 channels after conversion to sRGB, got ${info.channels}`);
  return { data, width: info.width, height: info.height };
}

export async function decodeRgb(input: ImageSource, opts: DecodeOptions = {}, label = describeInput(input)): Promise<RgbImage> {
  return decodePrepared(await prepare(input, opts, label));
}

/**
 * The 'fast' path: decode and resize with sharp's own kernels. JPEGs (not CMYK) go through one sharp pipeline,
 * so libvips can use JPEG shrink-on-load on large photos; everything else is decoded with PIL semantics first
 * (alpha dropped before the resize, CMYK formula, 16-bit gray clipping) and then resized from raw RGB.
 * `size` maps the stored image size to the output size.
 */
export async function decodeResizedFast(
  input: ImageSource,
  opts: DecodeOptions,
  label: string,
  kernel: ResizeKernel,
  size: (width: number, height: number) => { width: number; height: number },
): Promise<RgbImage> {
  const prep = await prepare(input, opts, label);
  const { header } = prep;
  if (prep.jpeg && header.kind === 'rgb' && !opts.autoOrient) {
    const out = size(header.width, header.height);
    try {
      return await rawRgb(sharp(prep.buf, prep.sharpOpts).resize(out.width, out.height, { fit: 'fill', kernel }));
    } catch (err) {
      throw decodeError(label, err);
    }
  }
  const img = await decodePrepared(prep);
  const out = size(img.width, img.height);
  if (out.width === img.width && out.height === img.height) return img;
  const data = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .resize(out.width, out.height, { fit: 'fill', kernel })
    .raw()
    .toBuffer();
  return { data, width: out.width, height: out.height };
}

async function decodePrepared(prep: Prepared): Promise<RgbImage> {
  const { buf, header, sharpOpts, label } = prep;
  try {
    if (header.kind === 'cmyk') {
      // Raw (non-inverted) CMYK samples, then PIL's formula.
      const { data, info } = await sharp(buf, sharpOpts)
        .pipelineColourspace('cmyk')
        .toColourspace('cmyk')
        .raw({ depth: 'uchar' })
        .toBuffer({ resolveWithObject: true });
      if (info.channels < 4) throw new Error(`expected 4 CMYK channels, got ${info.channels}`);
      let cmyk: Uint8Array = data;
      if (info.channels > 4) {
        cmyk = new Uint8Array(info.width * info.height * 4);
        for (let i = 0; i < info.width * info.height; i++) cmyk.set(data.subarray(i * info.channels, i * info.channels + 4), i * 4);
      }
      return { data: cmykToRgb(cmyk, info.width * info.height), width: info.width, height: info.height };
    }
    if (header.kind === 'gray16') {
      // PIL opens 16-bit grayscale as mode "I" and convert('RGB') clips it to 0..255.
      const { data, info } = await sharp(buf, sharpOpts)
        .toColourspace('grey16')
        .raw({ depth: 'ushort' })
        .toBuffer({ resolveWithObject: true });
      const n = info.width * info.height;
      const src = new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2);
      const out = new Uint8Array(n * 3);
      for (let i = 0; i < n; i++) {
        const v = src[i * info.channels]!;
        const b = v > 255 ? 255 : v;
        out[i * 3] = b;
        out[i * 3 + 1] = b;
        out[i * 3 + 2] = b;
      }
      return { data: out, width: info.width, height: info.height };
    }
    if (prep.convertToRgb && !header.pngTruecolour) {
      // convert_to_rgb: keep the alpha channel (libvips makes one for LA, palette + tRNS and gray + tRNS too) and
      // composite it over white; an image without alpha comes out as plain RGB.
      const { data, info } = await sharp(buf, sharpOpts).toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
      if (info.channels === 3) return { data, width: info.width, height: info.height };
      if (info.channels !== 4) throw new Error(`expected 3 or 4 channels after conversion to sRGB, got ${info.channels}`);
      return { data: compositeOverWhite(data, info.width * info.height, 4), width: info.width, height: info.height };
    }
    return await rawRgb(sharp(buf, sharpOpts).removeAlpha());
  } catch (err) {
    throw decodeError(label, err);
  }
}
