/**
 * Tokenizers of the Hugging Face `evaluate` metrics, ported from their Python regexes with Python's
 * Unicode semantics (`\w`, `\d`, `\s`, `\b` and `$` differ between Python and JavaScript):
 * - `tokenize13a`: sacrebleu's Tokenizer13a as evaluate's `bleu` copies it (returns a token list);
 * - `nltkWordTokenize`: NLTK 3.8 `NLTKWordTokenizer().tokenize` (what `word_tokenize` applies to each
 *   sentence; evaluate's `meteor` uses `word_tokenize`);
 * - `rougeTokenize`: rouge_score's default tokenizer (lower-case, `[^a-z0-9]+` -> space, optional
 *   Porter stemming of tokens longer than 3 characters).
 */
import { porterStem } from './porter.js';
import { PY_WS_CLASS, pySplit } from './pytext.js';

// ---------------------------------------------------------------------------------------------
// sacrebleu 13a

const RE13A: Array<[RegExp, string]> = [
  // language-dependent part (assuming Western languages)
  [/([{-~\[-` -&(-+:-@/])/gu, ' $1 '],
  // tokenize period and comma unless preceded by a digit
  [/([^0-9])([.,])/gu, '$1 $2 '],
  // tokenize period and comma unless followed by a digit
  [/([.,])([^0-9])/gu, ' $1 $2'],
  // tokenize dash when preceded by a digit
  [/([0-9])(-)/gu, '$1 $2 '],
];

/** sacrebleu `Tokenizer13a()(line)` as in evaluate's bleu (tokens, not a joined string). */
export function tokenize13a(text: string): string[] {
  let line = text.split('<skipped>').join('').split('-\n').join('').split('\n').join(' ');
  if (line.includes('&')) {
    line = line.split('&quot;').join('"').split('&amp;').join('&').split('&lt;').join('<').split('&gt;').join('>');
  }
  line = ` ${line} `;
  for (const [re, rep] of RE13A) line = line.replace(re, rep);
  return pySplit(line);
}

// ---------------------------------------------------------------------------------------------
// NLTK word tokenizer

const W = '[\\p{L}\\p{N}_]'; // Python's Unicode \w
const S = `[${PY_WS_CLASS}]`; // Python's Unicode \s
const END = '(?=\\n?$)'; // Python's $ (end, or before a final newline)
const B_BEFORE_WORD = `(?<!${W})`; // \b in front of a word character
const B_AFTER_WORD = `(?!${W})`; // \b after a word character

const re = (src: string, flags = ''): RegExp => new RegExp(src, `gu${flags}`);

const STARTING_QUOTES: Array<[RegExp, string]> = [
  [re('([«“‘„]|[`]+)'), ' $1 '],
  [/^"/u, '``'],
  [re('(``)'), ' $1 '],
  [re(`([ ([{<])("|'{2})`), '$1 `` '],
  [re(`(')(?!re|ve|ll|m|t|s|d|n)(${W})${B_AFTER_WORD}`, 'i'), '$1 $2'],
];

const PUNCTUATION: Array<[RegExp, string]> = [
  [re(`([^.])(\\.)([\\])}>"'»”’ ]*)${S}*${END}`), '$1 $2 $3 '],
  [re('([:,])([^\\p{Nd}])'), ' $1 $2'],
  [re(`([:,])${END}`), ' $1 '],
  [re('\\.{2,}'), ' $& '],
  [re('[;@#$%&]'), ' $& '],
  [re(`([^.])(\\.)([\\])}>"']*)${S}*${END}`), '$1 $2$3 '],
  [re('[?!]'), ' $& '],
  [re("([^'])' "), "$1 ' "],
  [re('[*]'), ' $& '],
];

const PARENS_BRACKETS: [RegExp, string] = [re('[\\][(){}<>]'), ' $& '];
const DOUBLE_DASHES: [RegExp, string] = [re('--'), ' -- '];

const ENDING_QUOTES: Array<[RegExp, string]> = [
  [re('([»”’])'), ' $1 '],
  [re("''"), " '' "],
  [re('"'), " '' "],
  [re("([^' ])('[sS]|'[mM]|'[dD]|') "), '$1 $2 '],
  [re("([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) "), '$1 $2 '],
];

const CONTRACTIONS: RegExp[] = [
  re(`${B_BEFORE_WORD}(can)(not)${B_AFTER_WORD}`, 'i'),
  re(`${B_BEFORE_WORD}(d)('ye)${B_AFTER_WORD}`, 'i'),
  re(`${B_BEFORE_WORD}(gim)(me)${B_AFTER_WORD}`, 'i'),
  re(`${B_BEFORE_WORD}(gon)(na)${B_AFTER_WORD}`, 'i'),
  re(`${B_BEFORE_WORD}(got)(ta)${B_AFTER_WORD}`, 'i'),
  re(`${B_BEFORE_WORD}(lem)(me)${B_AFTER_WORD}`, 'i'),
  re(`${B_BEFORE_WORD}(more)('n)${B_AFTER_WORD}`, 'i'),
  re(`${B_BEFORE_WORD}(wan)(na)(?=${S})`, 'i'),
  re(` ('t)(is)${B_AFTER_WORD}`, 'i'),
  re(` ('t)(was)${B_AFTER_WORD}`, 'i'),
];

/**
 * Plain captions (ASCII letters, digits, spaces, `,` followed by a space or the end, `?`, `!`, and
 * one final `.`) only ever meet the comma, `?!` and final-period rules: tokenize them directly.
 */
const NLTK_PLAIN = /^[A-Za-z0-9 ,?!]*(?:[A-Za-z0-9 ,?!]\.)? *$/;
const NLTK_COMMA_NOT_BEFORE_SPACE = /,(?! |$)/;
const NLTK_CONTRACTION_WORDS = /cannot|gimme|gonna|gotta|lemme|wanna/i;

/** NLTK 3.8 `NLTKWordTokenizer().tokenize(text)`. */
export function nltkWordTokenize(input: string): string[] {
  if (NLTK_PLAIN.test(input) && !NLTK_COMMA_NOT_BEFORE_SPACE.test(input) && !NLTK_CONTRACTION_WORDS.test(input)) {
    const dot = input.lastIndexOf('.');
    const body = dot >= 0 ? `${input.slice(0, dot)} .` : input;
    return pySplit(body.replace(/[,?!]/g, ' $& '));
  }
  let text = input;
  for (const [r, rep] of STARTING_QUOTES) text = text.replace(r, rep);
  for (const [r, rep] of PUNCTUATION) text = text.replace(r, rep);
  text = text.replace(PARENS_BRACKETS[0], PARENS_BRACKETS[1]);
  text = text.replace(DOUBLE_DASHES[0], DOUBLE_DASHES[1]);
  text = ` ${text} `;
  for (const [r, rep] of ENDING_QUOTES) text = text.replace(r, rep);
  for (const r of CONTRACTIONS) text = text.replace(r, ' $1 $2 ');
  return pySplit(text);
}

// ---------------------------------------------------------------------------------------------
// rouge_score default tokenizer

const NON_ALNUM = /[^a-z0-9]+/g;

/** rouge_score `tokenize.tokenize(text, stemmer)` with NLTK's PorterStemmer when `useStemmer`. */
export function rougeTokenize(text: string, useStemmer = false): string[] {
  const spaced = text.toLowerCase().replace(NON_ALNUM, ' ');
  const out: string[] = [];
  for (const tok of spaced.split(' ')) {
    if (tok.length === 0) continue;
    out.push(useStemmer && tok.length > 3 ? porterStem(tok) : tok);
  }
  return out;
}
