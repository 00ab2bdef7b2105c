/**
 * multipart/form-data (RFC 7578) for a body already in memory. The server caps and buffers the body before
 * parsing it (an image is decoded from one buffer anyway), so a streaming parser would buy nothing.
 */
import { TorchCaptionError } from '../errors.js';

/** A multipart body that cannot be parsed. */
export class MultipartError extends TorchCaptionError {}

export interface FormPart {
  /** The `name` of its Content-Disposition. */
  name: string;
  /** The `filename`, for file fields. */
  filename?: string;
  /** Its Content-Type header, if any. */
  contentType?: string;
  data: Buffer;
}

/** The boundary of a `multipart/form-data; boundary=...` Content-Type, or null if it is not one. */
export function multipartBoundary(contentType: string | undefined): string | null {
  if (!contentType || !/^multipart\/form-data\s*(;|$)/i.test(contentType)) return null;
  const m = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundary = m?.[1] ?? m?.[2];
  if (!boundary || boundary.length > 70) throw new MultipartError('Expected a boundary of 1 to 70 characters in the multipart/form-data Content-Type');
  return boundary;
}

function headerParam(value: string, param: string): string | undefined {
  const m = new RegExp(`;\\s*${param}=(?:"((?:[^"\\\\]|\\\\.)*)"|([^;\\s]*))`, 'i').exec(value);
  if (!m) return undefined;
  return m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2];
}

/** Split a multipart/form-data body into its parts (at most maxParts). */
export function parseMultipart(body: Buffer, boundary: string, maxParts = 16): FormPart[] {
  const dash = Buffer.from(`--${boundary}`);
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  let pos = body.subarray(0, dash.length).equals(dash) ? 0 : body.indexOf(delimiter);
  if (pos < 0) throw new MultipartError('Expected a multipart body with the boundary of its Content-Type but found none');
  pos += pos === 0 ? dash.length : delimiter.length;
  const parts: FormPart[] = [];
  for (;;) {
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) return parts; // closing "--"
    while (body[pos] === 0x20 || body[pos] === 0x09) pos++; // transport padding
    if (body[pos] !== 0x0d || body[pos + 1] !== 0x0a) throw new MultipartError('Expected CRLF after a multipart boundary');
    pos += 2;
    const headEnd = body.indexOf('\r\n\r\n', pos);
    if (headEnd < 0) throw new MultipartError('Expected the headers of a multipart part to end with an empty line');
    const headers = new Map<string, string>();
    for (const line of body.subarray(pos, headEnd).toString('utf8').split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const end = body.indexOf(delimiter, headEnd + 4);
    if (end < 0) throw new MultipartError('Expected a closing boundary after the last multipart part (the body is truncated)');
    const disposition = headers.get('content-disposition') ?? '';
    const name = /^form-data\s*(;|$)/i.test(disposition) ? headerParam(disposition, 'name') : undefined;
    if (name === undefined) throw new MultipartError('Expected a Content-Disposition: form-data header with a name on every multipart part');
    if (parts.length === maxParts) throw new MultipartError(`Expected at most ${maxParts} multipart parts`);
    const filename = headerParam(disposition, 'filename');
    const contentType = headers.get('content-type');
    parts.push({
      name,
      ...(filename !== undefined ? { filename } : {}),
      ...(contentType !== undefined ? { contentType } : {}),
      data: body.subarray(headEnd + 4, end),
    });
    pos = end + delimiter.length;
  }
}
