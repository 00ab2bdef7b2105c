/**
 * Caption text clean-up shared by the sources and the loader.
 */

const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: false });

/** Decode bytes as UTF-8; invalid sequences become U+FFFD (removed later by normalizeCaption). */
export function decodeUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

// C0 controls except tab/newline/CR (whitespace, collapsed below), DEL, and C1 controls.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/g;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

export interface NormalizedCaption {
  /** The cleaned caption, or null when nothing usable is left. */
  text: string | null;
  /** What was fixed: 'invalid_utf8', 'control_chars'. */
  fixes: string[];
}

/**
 * Clean one caption: drop U+FFFD replacement characters (bytes that were not valid UTF-8) and lone
 * surrogates, drop control characters, NFC-normalize, collapse runs of whitespace to one space and
 * trim. Empty results (and non-strings) give `text: null`.
 */
export function normalizeCaption(value: unknown): NormalizedCaption {
  if (typeof value !== 'string') return { text: null, fixes: [] };
  const fixes: string[] = [];
  let s = value;
  LONE_SURROGATE.lastIndex = 0;
  const hadLone = LONE_SURROGATE.test(s);
  if (hadLone) {
    LONE_SURROGATE.lastIndex = 0;
    s = s.replace(LONE_SURROGATE, '');
  }
  if (hadLone || s.includes('\uFFFD')) {
    s = s.replaceAll('\uFFFD', '');
    fixes.push('invalid_utf8');
  }
  CONTROL.lastIndex = 0;
  if (CONTROL.test(s)) {
    CONTROL.lastIndex = 0;
    s = s.replace(CONTROL, '');
    fixes.push('control_chars');
  }
  s = s.normalize('NFC').replace(/\s+/gu, ' ').trim();
  return { text: s.length > 0 ? s : null, fixes };
}

/** Turn a caption-ish value (string, string[], {raw}[], bytes) into a list of strings. */
export function toCaptionList(value: unknown): string[] {
  if (value === null || value === undefined) return [];
  if (typeof value === 'string') return [value];
  if (value instanceof Uint8Array) return [decodeUtf8(value)];
  if (Array.isArray(value)) {
    const out: string[] = [];
    for (const v of value) {
      if (typeof v === 'string') out.push(v);
      else if (v instanceof Uint8Array) out.push(decodeUtf8(v));
      else if (v !== null && typeof v === 'object') {
        const o = v as { raw?: unknown; caption?: unknown; text?: unknown; tokens?: unknown };
        const t = o.raw ?? o.caption ?? o.text;
        if (typeof t === 'string') out.push(t);
        else if (Array.isArray(o.tokens)) out.push(o.tokens.join(' '));
      }
    }
    return out;
  }
  return [];
}
