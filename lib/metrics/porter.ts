/**
 * NLTK 3.8 `PorterStemmer()` in its default NLTK_EXTENSIONS mode (what NLTK's METEOR and
 * rouge_score's `use_stemmer=True` use): Porter's algorithm with NLTK's departures (words of two
 * characters or fewer are left alone, an irregular-forms table, `ies`/`ied` on 4-letter words,
 * `alli`, `fulli`, `logi`, the 2-letter *o condition, `bli` -> `ble`).
 * Works on code points (Python string semantics), results are cached.
 */

const IRREGULAR: Record<string, string[]> = {
  sky: ['sky', 'skies'],
  die: ['dying'],
  lie: ['lying'],
  tie: ['tying'],
  news: ['news'],
  inning: ['innings', 'inning'],
  outing: ['outings', 'outing'],
  canning: ['cannings', 'canning'],
  howe: ['howe'],
  proceed: ['proceed'],
  exceed: ['exceed'],
  succeed: ['succeed'],
};
const POOL = new Map<string, string>();
for (const [k, vs] of Object.entries(IRREGULAR)) for (const v of vs) POOL.set(v, k);

type W = string[];
type Cond = ((stem: W) => boolean) | null;
type RuleT = [suffix: string, replacement: string, cond: Cond];

const isVowelChar = (c: string): boolean => c === 'a' || c === 'e' || c === 'i' || c === 'o' || c === 'u';

function isConsonant(w: W, i: number): boolean {
  const c = w[i];
  if (isVowelChar(c)) return false;
  if (c === 'y') return i === 0 ? true : !isConsonant(w, i - 1);
  return true;
}

function measure(stem: W): number {
  let m = 0;
  let prevVowel = false;
  for (let i = 0; i < stem.length; i++) {
    const cons = isConsonant(stem, i);
    if (cons && prevVowel) m++;
    prevVowel = !cons;
  }
  return m;
}

const hasPositiveMeasure = (stem: W): boolean => measure(stem) > 0;

function containsVowel(stem: W): boolean {
  for (let i = 0; i < stem.length; i++) if (!isConsonant(stem, i)) return true;
  return false;
}

function endsDoubleConsonant(w: W): boolean {
  const n = w.length;
  return n >= 2 && w[n - 1] === w[n - 2] && isConsonant(w, n - 1);
}

function endsCvc(w: W): boolean {
  const n = w.length;
  return (
    (n >= 3 &&
      isConsonant(w, n - 3) &&
      !isConsonant(w, n - 2) &&
      isConsonant(w, n - 1) &&
      w[n - 1] !== 'w' && w[n - 1] !== 'x' && w[n - 1] !== 'y') ||
    (n === 2 && !isConsonant(w, 0) && isConsonant(w, 1))
  );
}

function endsWith(w: W, suffix: string): boolean {
  const k = suffix.length; // suffixes are ASCII: code units = code points
  if (k > w.length) return false;
  for (let i = 0; i < k; i++) if (w[w.length - k + i] !== suffix[i]) return false;
  return true;
}

/** word[:-len(suffix)] + replacement (suffix assumed present). */
function replaceSuffix(w: W, suffix: string, replacement: string): W {
  const base = suffix.length === 0 ? w.slice() : w.slice(0, w.length - suffix.length);
  for (const c of replacement) base.push(c);
  return base;
}

function applyRuleList(word: W, rules: RuleT[]): W {
  for (const [suffix, replacement, cond] of rules) {
    if (suffix === '*d' && endsDoubleConsonant(word)) {
      const stem = word.slice(0, word.length - 2);
      if (cond === null || cond(stem)) return replaceSuffix(stem, '', replacement);
      return word;
    }
    if (endsWith(word, suffix)) {
      const stem = replaceSuffix(word, suffix, '');
      if (cond === null || cond(stem)) return replaceSuffix(stem, '', replacement);
      return word;
    }
  }
  return word;
}

function step1a(word: W): W {
  if (endsWith(word, 'ies') && word.length === 4) return replaceSuffix(word, 'ies', 'ie');
  return applyRuleList(word, [
    ['sses', 'ss', null],
    ['ies', 'i', null],
    ['ss', 'ss', null],
    ['s', '', null],
  ]);
}

function step1b(word: W): W {
  if (endsWith(word, 'ied')) return replaceSuffix(word, 'ied', word.length === 4 ? 'ie' : 'i');
  if (endsWith(word, 'eed')) {
    const stem = replaceSuffix(word, 'eed', '');
    return measure(stem) > 0 ? replaceSuffix(stem, '', 'ee') : word;
  }
  let intermediate: W | null = null;
  for (const suffix of ['ed', 'ing']) {
    if (endsWith(word, suffix)) {
      const s = replaceSuffix(word, suffix, '');
      if (containsVowel(s)) {
        intermediate = s;
        break;
      }
    }
  }
  if (intermediate === null) return word;
  const im = intermediate;
  const last = im[im.length - 1];
  return applyRuleList(im, [
    ['at', 'ate', null],
    ['bl', 'ble', null],
    ['iz', 'ize', null],
    ['*d', last, () => last !== 'l' && last !== 's' && last !== 'z'],
    ['', 'e', (stem) => measure(stem) === 1 && endsCvc(stem)],
  ]);
}

function step1c(word: W): W {
  return applyRuleList(word, [['y', 'i', (stem) => stem.length > 1 && isConsonant(stem, stem.length - 1)]]);
}

const STEP2_RULES: RuleT[] = [
  ['ational', 'ate', hasPositiveMeasure],
  ['tional', 'tion', hasPositiveMeasure],
  ['enci', 'ence', hasPositiveMeasure],
  ['anci', 'ance', hasPositiveMeasure],
  ['izer', 'ize', hasPositiveMeasure],
  ['bli', 'ble', hasPositiveMeasure],
  ['alli', 'al', hasPositiveMeasure],
  ['entli', 'ent', hasPositiveMeasure],
  ['eli', 'e', hasPositiveMeasure],
  ['ousli', 'ous', hasPositiveMeasure],
  ['ization', 'ize', hasPositiveMeasure],
  ['ation', 'ate', hasPositiveMeasure],
  ['ator', 'ate', hasPositiveMeasure],
  ['alism', 'al', hasPositiveMeasure],
  ['iveness', 'ive', hasPositiveMeasure],
  ['fulness', 'ful', hasPositiveMeasure],
  ['ousness', 'ous', hasPositiveMeasure],
  ['aliti', 'al', hasPositiveMeasure],
  ['iviti', 'ive', hasPositiveMeasure],
  ['biliti', 'ble', hasPositiveMeasure],
  ['fulli', 'ful', hasPositiveMeasure],
];

function step2(word: W): W {
  if (endsWith(word, 'alli') && hasPositiveMeasure(replaceSuffix(word, 'alli', ''))) {
    return step2(replaceSuffix(word, 'alli', 'al'));
  }
  const wordMinus3 = word.slice(0, Math.max(0, word.length - 3));
  return applyRuleList(word, [...STEP2_RULES, ['logi', 'log', () => hasPositiveMeasure(wordMinus3)]]);
}

const STEP3_RULES: RuleT[] = [
  ['icate', 'ic', hasPositiveMeasure],
  ['ative', '', hasPositiveMeasure],
  ['alize', 'al', hasPositiveMeasure],
  ['iciti', 'ic', hasPositiveMeasure],
  ['ical', 'ic', hasPositiveMeasure],
  ['ful', '', hasPositiveMeasure],
  ['ness', '', hasPositiveMeasure],
];

const gt1 = (stem: W): boolean => measure(stem) > 1;
const STEP4_RULES: RuleT[] = [
  ['al', '', gt1],
  ['ance', '', gt1],
  ['ence', '', gt1],
  ['er', '', gt1],
  ['ic', '', gt1],
  ['able', '', gt1],
  ['ible', '', gt1],
  ['ant', '', gt1],
  ['ement', '', gt1],
  ['ment', '', gt1],
  ['ent', '', gt1],
  ['ion', '', (stem) => measure(stem) > 1 && (stem[stem.length - 1] === 's' || stem[stem.length - 1] === 't')],
  ['ou', '', gt1],
  ['ism', '', gt1],
  ['ate', '', gt1],
  ['iti', '', gt1],
  ['ous', '', gt1],
  ['ive', '', gt1],
  ['ize', '', gt1],
];

function step5a(word: W): W {
  if (endsWith(word, 'e')) {
    const stem = replaceSuffix(word, 'e', '');
    if (measure(stem) > 1) return stem;
    if (measure(stem) === 1 && !endsCvc(stem)) return stem;
  }
  return word;
}

function step5b(word: W): W {
  const wordMinus1 = word.slice(0, word.length - 1);
  return applyRuleList(word, [['ll', 'l', () => measure(wordMinus1) > 1]]);
}

const cache = new Map<string, string>();

/** `nltk.stem.PorterStemmer().stem(word)` (lower-cases first, as NLTK does by default). */
export function porterStem(word: string): string {
  const hit = cache.get(word);
  if (hit !== undefined) return hit;
  const lower = word.toLowerCase();
  let result: string;
  if (POOL.has(word)) {
    result = POOL.get(lower) ?? lower;
  } else {
    const chars = Array.from(lower);
    if (Array.from(word).length <= 2) {
      result = lower;
    } else {
      let w = step1a(chars);
      w = step1b(w);
      w = step1c(w);
      w = step2(w);
      w = applyRuleList(w, STEP3_RULES);
      w = applyRuleList(w, STEP4_RULES);
      w = step5a(w);
      w = step5b(w);
      result = w.join('');
    }
  }
  if (cache.size > 200_000) cache.clear();
  cache.set(word, result);
  return result;
}
