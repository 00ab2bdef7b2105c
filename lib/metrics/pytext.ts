/**
 * Small helpers that reproduce Python string semantics the reference implementations rely on
 * (pycocoevalcap, sacrebleu, rouge_score, jiwer and NLTK are all Python). Getting these exactly right
 * matters more than it looks: `str.split()` and `\s` know more whitespace than JavaScript's `\s`
 * (U+001C..U+001F and U+0085), and less (no U+FEFF).
 */

/** Characters for which Python's `str.isspace()` is true (what `str.split()` and `re` `\s` use). */
export const PY_WS_CLASS =
  '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

const PY_WS_RUN = new RegExp(`[${PY_WS_CLASS}]+`, 'u');
const PY_WS_RUN_G = new RegExp(`[${PY_WS_CLASS}]+`, 'gu');
const PY_WS_LEAD = new RegExp(`^[${PY_WS_CLASS}]+`, 'u');
const PY_WS_TRAIL = new RegExp(`[${PY_WS_CLASS}]+$`, 'u');

/** True when `code` (a UTF-16 code unit, all Python whitespace is in the BMP) is Python whitespace. */
export function isPyWhitespace(code: number): boolean {
  if (code <= 0x20) return code === 0x20 || (code >= 0x09 && code <= 0x0d) || (code >= 0x1c && code <= 0x1f);
  if (code < 0x85) return false;
  return (
    code === 0x85 || code === 0xa0 || code === 0x1680 || (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 || code === 0x2029 || code === 0x202f || code === 0x205f || code === 0x3000
  );
}

/** Python `s.split()` (no argument): split on runs of whitespace, no empty strings. */
export function pySplit(s: string): string[] {
  const out: string[] = [];
  const n = s.length;
  let i = 0;
  while (i < n) {
    while (i < n && isPyWhitespace(s.charCodeAt(i))) i++;
    if (i >= n) break;
    const start = i;
    while (i < n && !isPyWhitespace(s.charCodeAt(i))) i++;
    out.push(s.slice(start, i));
  }
  return out;
}

/** Python `s.strip()` (no argument). */
export function pyStrip(s: string): string {
  return s.replace(PY_WS_LEAD, '').replace(PY_WS_TRAIL, '');
}

/** Python `re.sub(r"\s\s+", " ", s)` as jiwer's RemoveMultipleSpaces does it. */
export function pyCollapseMultipleSpaces(s: string): string {
  return s.replace(PY_WS_RUN_G, (run) => (run.length >= 2 ? ' ' : run));
}

/** True when the string contains any Python whitespace. */
export function hasPyWhitespace(s: string): boolean {
  return PY_WS_RUN.test(s);
}

/** Number of Unicode code points (Python `len`). */
export function pyLen(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/**
 * Mean as numpy computes it for a 1-D float64 array (`np.mean`): pairwise summation in blocks of 8
 * accumulators, as numpy's `pairwise_sum` does, then one division. Matches numpy to the last bit for
 * the sizes used here and keeps corpus values order-stable.
 */
export function npMean(values: ArrayLike<number>): number {
  const n = values.length;
  if (n === 0) return NaN;
  return pairwiseSum(values, 0, n) / n;
}

function pairwiseSum(a: ArrayLike<number>, start: number, n: number): number {
  if (n < 8) {
    // numpy: res = 0.; for i: res += a[i]  (starts from -0.0 in newer versions; same value)
    let res = 0;
    for (let i = 0; i < n; i++) res += a[start + i];
    return res;
  }
  if (n <= 128) {
    const r = [a[start], a[start + 1], a[start + 2], a[start + 3], a[start + 4], a[start + 5], a[start + 6], a[start + 7]];
    let i = 8;
    for (; i < n - (n % 8); i += 8) {
      r[0] += a[start + i];
      r[1] += a[start + i + 1];
      r[2] += a[start + i + 2];
      r[3] += a[start + i + 3];
      r[4] += a[start + i + 4];
      r[5] += a[start + i + 5];
      r[6] += a[start + i + 6];
      r[7] += a[start + i + 7];
    }
    let res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; i++) res += a[start + i];
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwiseSum(a, start, n2) + pairwiseSum(a, start + n2, n - n2);
}
