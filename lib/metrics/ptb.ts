/**
 * COCO caption tokenization: what pycocoevalcap's `PTBTokenizer` produces.
 *
 * pycocoevalcap joins every caption of a split with newlines (after replacing newlines inside a
 * caption by spaces), pipes them through Stanford CoreNLP 3.4.1's
 * `edu.stanford.nlp.process.PTBTokenizer -preserveLines -lowerCase` (default options, i.e. the
 * traditional PTB3 normalisations: `(` -> `-LRB-`, quotes -> `` `` `` / `''`, `/` -> `\/`,
 * British -> American spelling for a short word list, ...), lower-cases every token and finally drops
 * the tokens `'' ' `` ` -LRB- -RRB- -LCB- -RCB- . ? ! , : - -- ... ;`. Because lower-casing happens
 * first, `-LRB-`/`-RRB-` are never dropped: `(` survives as `-lrb-`, exactly as in COCO results.
 *
 * This module re-implements the PTB lexer rules in TypeScript: a longest-match scanner over the same
 * token classes and in the same rule priority as PTBLexer.flex (words, clitics `n't 's 're 've 'm 'll
 * 'd`, hyphenated words, numbers, fractions, abbreviations and acronyms, quotes, brackets, dashes,
 * ellipses, URLs, e-mail addresses, currency, miscellaneous symbols; untokenizable characters are
 * deleted). A fast path handles the common chunks (plain words with optional trailing punctuation)
 * without running the general scanner. Known approximations, all outside ordinary caption text, are
 * listed in docs/metrics.md.
 */

/** Tokens pycocoevalcap removes after tokenization (compared after lower-casing, as it does). */
export const COCO_PUNCTUATIONS: ReadonlySet<string> = new Set([
  "''", "'", '``', '`', '-LRB-', '-RRB-', '-LCB-', '-RCB-', '.', '?', '!', ',', ':', '-', '--', '...', ';',
]);

// ---------------------------------------------------------------------------------------------
// Americanize (CoreNLP's Americanize.americanize(word), applied to WORD tokens before lower-casing)

const AMERICANIZE_FROM = [
  'anaesthetic', 'analogue', 'analogues', 'analyse', 'analysed', 'analysing', 'armoured', 'cancelled',
  'cancelling', 'candour', 'capitalise', 'capitalised', 'capitalisation', 'centre', 'chimaeric', 'clamour',
  'coloured', 'colouring', 'colourful', 'defence', 'Defence', 'discolour', 'discolours', 'discoloured',
  'discolouring', 'encyclopaedia', 'endeavour', 'endeavours', 'endeavoured', 'endeavouring', 'fervour',
  'favour', 'favours', 'favoured', 'favouring', 'favourite', 'favourites', 'fibre', 'fibres', 'finalise',
  'finalised', 'finalising', 'flavour', 'flavours', 'flavoured', 'flavouring', 'glamour', 'grey', 'harbour',
  'harbours', 'homologue', 'homologues', 'honour', 'honours', 'honoured', 'honouring', 'honourable',
  'humour', 'humours', 'humoured', 'humouring', 'kerb', 'labelled', 'labelling', 'labour', 'Labour',
  'labours', 'laboured', 'labouring', 'leant', 'learnt', 'localise', 'localised', 'manoeuvre', 'manoeuvres',
  'maximise', 'maximised', 'maximising', 'meagre', 'minimise', 'minimised', 'minimising', 'modernise',
  'modernised', 'modernising', 'misdemeanour', 'misdemeanours', 'neighbour', 'neighbours', 'neighbourhood',
  'neighbourhoods', 'oestrogen', 'oestrogens', 'organisation', 'organisations', 'penalise', 'penalised',
  'popularise', 'popularised', 'popularises', 'popularising', 'practise', 'practised', 'pressurise',
  'pressurised', 'pressurises', 'pressurising', 'realise', 'realised', 'realising', 'realises', 'recognise',
  'recognised', 'recognising', 'recognises', 'rumoured', 'rumouring', 'savour', 'savours', 'savoured',
  'savouring', 'splendour', 'splendours', 'theatre', 'theatres', 'titre', 'titres', 'travelled', 'travelling',
];
const AMERICANIZE_TO = [
  'anesthetic', 'analog', 'analogs', 'analyze', 'analyzed', 'analyzing', 'armored', 'canceled', 'canceling',
  'candor', 'capitalize', 'capitalized', 'capitalization', 'center', 'chimeric', 'clamor', 'colored',
  'coloring', 'colorful', 'defense', 'Defense', 'discolor', 'discolors', 'discolored', 'discoloring',
  'encyclopedia', 'endeavor', 'endeavors', 'endeavored', 'endeavoring', 'fervor', 'favor', 'favors',
  'favored', 'favoring', 'favorite', 'favorites', 'fiber', 'fibers', 'finalize', 'finalized', 'finalizing',
  'flavor', 'flavors', 'flavored', 'flavoring', 'glamour', 'gray', 'harbor', 'harbors', 'homolog',
  'homologs', 'honor', 'honors', 'honored', 'honoring', 'honorable', 'humor', 'humors', 'humored',
  'humoring', 'curb', 'labeled', 'labeling', 'labor', 'Labor', 'labors', 'labored', 'laboring', 'leaned',
  'learned', 'localize', 'localized', 'maneuver', 'maneuvers', 'maximize', 'maximized', 'maximizing',
  'meager', 'minimize', 'minimized', 'minimizing', 'modernize', 'modernized', 'modernizing', 'misdemeanor',
  'misdemeanors', 'neighbor', 'neighbors', 'neighborhood', 'neighborhoods', 'estrogen', 'estrogens',
  'organization', 'organizations', 'penalize', 'penalized', 'popularize', 'popularized', 'popularizes',
  'popularizing', 'practice', 'practiced', 'pressurize', 'pressurized', 'pressurizes', 'pressurizing',
  'realize', 'realized', 'realizing', 'realizes', 'recognize', 'recognized', 'recognizing', 'recognizes',
  'rumored', 'rumoring', 'savor', 'savors', 'savored', 'savoring', 'splendor', 'splendors', 'theater',
  'theaters', 'titer', 'titers', 'traveled', 'traveling',
];
const AMERICANIZE_MAP = new Map<string, string>(AMERICANIZE_FROM.map((w, i) => [w, AMERICANIZE_TO[i]]));
const AMERICANIZE_PATTERNS: Array<{ re: RegExp; rep: string; except?: RegExp }> = [
  { re: /haem(at)?o/g, rep: 'hem$1o' },
  { re: /aemia$/g, rep: 'emia' },
  { re: /([lL])eukaem/g, rep: '$1eukem' },
  { re: /programme(s?)$/g, rep: 'program$1' },
  {
    re: /^([a-z]{3,})our(s?)$/g,
    rep: '$1or$2',
    except: new RegExp(
      [
        'abatjour', 'beflour', 'bonjour', 'calambour', 'carrefour', 'cornflour', 'contour', 'de[tv]our',
        'dortour', 'dyvour', 'downpour', 'giaour', 'glamour', 'holour', 'inpour', 'outpour', 'pandour',
        'paramour', 'pompadour', 'recontour', 'repour', 'ryeflour', 'sompnour', 'tambour', 'troubadour',
        'tregetour', 'velour',
      ].join('|'),
    ),
  },
];
const AMERICANIZE_ANY = /haemo|haemato|aemia$|[lL]eukaem|programmes?$|^[a-z]{3,}ours?$/;

/** CoreNLP Americanize: British -> American spelling for a fixed list and a few patterns. */
export function americanize(word: string): string {
  const n = word.length;
  if (n < 4) return word;
  const mapped = AMERICANIZE_MAP.get(word);
  if (mapped !== undefined) return mapped;
  if (n < 6) return word;
  // cheap test for the patterns: haem(at)o, aemia$, [lL]eukaem (all contain "aem"), programme(s)$, our(s)$
  if (!(word.endsWith('our') || word.endsWith('ours') || word.includes('aem') || word.includes('programme'))) return word;
  if (!AMERICANIZE_ANY.test(word)) return word;
  for (const p of AMERICANIZE_PATTERNS) {
    p.re.lastIndex = 0;
    if (p.re.test(word)) {
      if (p.except && p.except.test(word)) continue;
      p.re.lastIndex = 0;
      return word.replace(p.re, p.rep);
    }
  }
  return word;
}

// ---------------------------------------------------------------------------------------------
// Lexer rules

/** Make the ASCII letters of a regex source case-insensitive (JFlex %caseless: not inside classes). */
function ci(src: string): string {
  let out = '';
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === '\\') {
      // copy escapes whole: \uXXXX, \xXX, \p{...} and single-character escapes
      const m = /^\\(?:u[0-9A-Fa-f]{4}|x[0-9A-Fa-f]{2}|[pP]\{[^}]*\}|.)/su.exec(src.slice(i));
      const esc = m ? m[0] : c;
      out += esc;
      i += esc.length - 1;
    } else if (c === '[') {
      const end = src.indexOf(']', i + 1);
      out += src.slice(i, end + 1);
      i = end;
    } else if (/[A-Za-z]/.test(c)) {
      out += `[${c.toLowerCase()}${c.toUpperCase()}]`;
    } else {
      out += c;
    }
  }
  return out;
}

const WORDCH = '[\\p{L}\\p{M}\\u00AD]';
const WORD = `${WORDCH}+`;
const LD = '[\\p{L}\\p{Nd}]';
const DIGIT = '\\p{Nd}';
const APOS = "(?:['\\u0092\\u2019]|&apos;)";
const APOSETC = "(?:['\\u0092\\u2019\\u0091\\u2018\\u201B]|&apos;)";
const REDAUX = `${APOS}(?:[msdMSD]|[rR][eE]|[vV][eE]|[lL][lL])`;
const SWORD = '[A-Za-z\\u00AD]*[A-MO-Za-mo-z]\\u00AD*';
const SREDAUX = `[nN]${APOSETC}[tT]`;
const SPACE = '[ \\t\\u00A0\\u2000-\\u200A\\u3000]';
const SPACES = `${SPACE}+`;
const NEWLINE = '(?:\\r\\n|[\\r\\n\\u2028\\u2029\\u000B\\u000C\\u0085])';
const SPACENL = `(?:${SPACE}|${NEWLINE})`;
const SGML = '<\\/?[A-Za-z!][^>]*>';
const SENTEND = `${SPACENL}(?:${SPACENL}|[A-Z]|${SGML})`;
const DATE = `${DIGIT}{1,2}[\\-\\/]${DIGIT}{1,2}[\\-\\/]${DIGIT}{2,4}`;
// Alternatives are ordered longest-first: JFlex picks the longest match, a backtracking regex the first.
const NUM = `(?:${DIGIT}*(?:[.:,\\u00AD\\u066B\\u066C]${DIGIT}+)+|${DIGIT}+)`;
const NUMBER = `[\\-+]?${NUM}`;
const SUBSUPNUM = '[\\u207A\\u207B\\u208A\\u208B]?(?:[\\u2070\\u00B9\\u00B2\\u00B3\\u2074-\\u2079]+|[\\u2080-\\u2089]+)';
const FRAC = `(?:${DIGIT}{1,4}[\\- \\u00A0])?${DIGIT}{1,4}(?:\\\\?\\/|\\u2044)${DIGIT}{1,4}`;
const FRAC2 = '[\\u00BC\\u00BD\\u00BE\\u2153-\\u215E]';
const DOLSIGN = '(?:[A-Z]*\\$|#)';
const DOLSIGN2 = '[\\u00A2\\u00A3\\u00A4\\u00A5\\u0080\\u20A0\\u20AC\\u060B\\u0E3F\\u20A4\\uFFE0\\uFFE1\\uFFE5\\uFFE6]';
const HYPHEN = '[\\-_\\u058A\\u2010\\u2011]';
const THING = `(?:[dDoOlL]${APOSETC}${LD})?${LD}+(?:${HYPHEN}(?:[dDoOlL]${APOSETC}${LD})?${LD}+)*`;
const AMP_ENTITY = ci('&amp;');
const THINGA = `[A-Z]+(?:(?:[+&]|${AMP_ENTITY})[A-Z]+)+`;
const THING3 = '[A-Za-z0-9]+(?:-[A-Za-z]+){0,2}(?:\\\\?\\/[A-Za-z0-9]+(?:-[A-Za-z]+){0,2}){1,2}';
const ACRO = `(?:${ci('(?:Canada|Sino|Korean|EU|Japan|non)-U\\.S|U\\.S\\.-(?:U\\.K|U\\.S\\.S\\.R)')}|[A-Za-z](?:\\.[A-Za-z])+)`;
const HTHING = `[A-Za-z0-9][A-Za-z0-9.,\\u00AD]*(?:-(?:${ACRO}\\.|[A-Za-z0-9\\u00AD]+))+`;
/** APOWORD alternatives, one rule each so that the longest wins as in JFlex. */
const APOWORDS = [
  `${APOS}[nN]${APOS}?`,
  `[lLdDjJ]${APOS}`,
  `${ci('Dunkin')}${APOS}`,
  `${ci('somethin')}${APOS}`,
  `${ci('ol')}${APOS}`,
  `${APOS}${ci('em')}`,
  `[A-HJ-XZn]${APOSETC}\\p{L}{2}\\p{L}*`,
  `${APOS}[2-9]0[sS]`,
  `${APOS}${ci('till?')}`,
  `\\p{L}\\p{L}*[aeiouyAEIOUY]${APOSETC}[aeiouA-Z]\\p{L}*`,
  `${APOS}${ci('cause')}`,
  `${ci("cont'd")}\\.?`,
  ...["'twas", "nor'easter", "c'mon", "e'er", "s'mores", "ev'ry", "li'l", "nat'l"].map(ci),
];
const URLCH = '[^ \\t\\n\\f\\r"<>|()]';
const FULLURL = `${ci('https?')}:\\/\\/${URLCH}+[^ \\t\\n\\f\\r"<>|.!?(){},\\-]`;
const URLPATH = `(?:\\/${URLCH}+[^ \\t\\n\\f\\r"<>|.!?(){},\\-])?`;
const LIKELYURLS = [
  `${ci('www')}\\.(?:[^ \\t\\n\\f\\r"<>|.!?(){},]+\\.)+[a-zA-Z]{2,4}${URLPATH}`,
  `(?:[^ \\t\\n\\f\\r"\`'<>|.!?(){}\\x2C-\\x5F$]+\\.)+${ci('(?:com|net|org|edu)')}${URLPATH}`,
];
const EMAIL = '[a-zA-Z0-9][^ \\t\\n\\f\\r"<>|()\\u00A0]*@(?:[^ \\t\\n\\f\\r"<>|().\\u00A0]+\\.)+[a-zA-Z]{2,4}';

const ABMONTH = 'Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec';
const ABDAYS = 'Mon|Tue|Tues|Wed|Thu|Thurs|Fri';
const ABSTATE =
  'Ala|Ariz|[A]rk|Calif|Colo|Conn|Dak|Del|Fla|Ga|[I]ll|Ind|Kans?|Ky|La|[M]ass|Md|Mich|Minn|[M]iss|Mo|Mont|Neb|Nev|Okla|[O]re|Pa|Penn|Tenn|Tex|Va|Vt|[W]ash|Wisc?|Wyo';
const ABTITLE =
  'Mr|Mrs|Ms|[M]iss|Drs?|Profs?|Sens?|Reps?|Attys?|Lt|Col|Gen|Messrs|Govs?|Adm|Rev|Maj|Sgt|Cpl|Pvt|Mt|Capt|Ste?|Ave|Pres|Lieut|Hon|Brig|Co?mdr|Pfc|Spc|Supts?|Det';
const ABPTIT = 'Jr|Sr|Bros|(?:Ed|Ph)\\.D|Blvd|Rd|Esq';
const ABCOMP = 'Inc|Cos?|Corp|Pp?tys?|Ltd|Plc|Bancorp|Dept|Bhd|Assn|Univ|Intl|Sys';
const ABCOMP2 = 'Invt|Elec|Natl|M[ft]g';
const ABNUM = 'Nos?|Prop|Ph|tel|est|ext|sq|ft';
const ABBREV1 = `(?:${ci(`${ABMONTH}|${ABDAYS}|${ABSTATE}|${ABCOMP}|${ABNUM}|${ABPTIT}|etc|al|seq`)})\\.`;
const ABBREV4 = `(?:${ACRO}|${ci(`${ABTITLE}|vs|Alex|Wm|Jos|Cie|a\\.k\\.a|cf|TREAS`)}|${ci(ABCOMP2)}|[A-Za-z])`;
const ABBREV2 = `${ABBREV4}\\.`;
const ACRONYM = `${ACRO}\\.`;
const ACRONYM_NEXT =
  '(?:[A]bout|[A]ccording|[A]dditionally|[A]fter|[A]n|[A]|[A]s|[A]t|[B]ut|[E]arlier|[H]e|[H]er|[H]ere|[H]owever|[I]f|[I]n|[I]t|[L]ast|[M]any|[M]ore|[M]r\\.|[M]s\\.|[N]ow|[O]nce|[O]ne|[O]ther|[O]ur|[S]he|[S]ince|[S]o|[S]ome|[S]uch|[T]hat|[T]he|[T]hen|[T]here|[T]hese|[T]hey|[T]his|[W]e|[W]hen|[W]hile|[W]hat|[Y]et|[Y]ou)';
const TBSPEC = ci(
  "-(?:RRB|LRB|RCB|LCB|RSB|LSB)-|C\\.D\\.s|pro-|anti-|S(?:&|&amp;)P-500|S(?:&|&amp;)Ls|Cap(?:['\\u0092\\u2019]|&apos;)n|c(?:['\\u0092\\u2019]|&apos;)est",
);
const TBSPEC2 = `${APOS}[0-9][0-9]`;
const INSENTP = '[,;:]';
const PHONE = '(?:\\([0-9]{3}\\)[ \\u00A0]?|[0-9]{3}[\\- \\u00A0.])[0-9]{3}[\\- \\u00A0.][0-9]{4}';
const OPBRAC = `(?:[<\\[]|${ci('&lt;')})`;
const CLBRAC = `(?:[>\\]]|${ci('&gt;')})`;
const LDOTS = '(?:\\.{3,5}|(?:\\.[ \\u00A0]){2,4}\\.|[\\u0085\\u2026])';
const DBLQUOT = `(?:"|${ci('&quot;')})`;
const QUOTES = `(?:''|[\`\\u2018\\u2019\\u201A\\u201B\\u201C\\u201D\\u0091\\u0092\\u0093\\u0094\\u201E\\u201F\\u2039\\u203A\\u00AB\\u00BB]{1,2}|${APOS})`;
const MISCSYMBOL =
  '[\\u00A6\\u00A7\\u00A8\\u00A9\\u00AC\\u00AE\\u00AF\\u00B0-\\u00BA\\u00D7\\u00F7\\u0387\\u05BE\\u05C0\\u05C3\\u05C6\\u05F3\\u05F4\\u0600-\\u0603\\u0606-\\u060A\\u060C\\u0614\\u061B\\u061E\\u066A\\u066D\\u0703-\\u070D\\u07F6\\u07F7\\u07F8\\u0964\\u0965\\u0E4F\\u2020-\\u2023\\u2032-\\u2038\\u2044\\u207A-\\u207F\\u208A-\\u208E\\u2100-\\u214F\\u2190-\\u21FF\\u2200-\\u22FF\\u2300-\\u23FF\\u2600-\\u26FF\\u3012\\u30FB\\uFF01-\\uFF0F\\uFF1A-\\uFF20\\uFF3B-\\uFF40\\uFF5B-\\uFF65]';
const SKIP = `(?:\\u0000|${SPACES}|[\\u200B\\u200E\\u200F\\uFEFF]|${NEWLINE}|${ci('&nbsp;')})`;

/** What a rule does with the text it matched. null: no token (whitespace, deleted characters). */
type Action = (text: string) => string | null;

interface Rule {
  /** Sticky regex. With `ctx`, group 1 is the token text and the rest is trailing context. */
  re: RegExp;
  ctx: boolean;
  action: Action;
  /** Characters to consume: defaults to the token text length (pushback when smaller). */
  consume?: (text: string) => number;
}

const removeSoftHyphens = (s: string): string => (s.indexOf('\u00AD') >= 0 ? s.replace(/\u00AD/g, '') : s);

/** Backslash-escape `c` unless it is already escaped (PTB3 escapes / and *). */
function delimit(s: string, c: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    if (s[i] === c && (i === 0 || s[i - 1] !== '\\')) out += '\\';
    out += s[i];
  }
  return out;
}

const normalizeAmp = (s: string): string => s.replace(/&amp;/gi, '&');

function latexQuotes(tok: string, probablyLeft: boolean): string {
  let s = tok;
  if (probablyLeft) {
    s = s.replace(/&apos;|'/g, '`').replace(/"|&quot;/g, '``');
  } else {
    s = s.replace(/&apos;|'/g, "'").replace(/"|&quot;/g, "''");
  }
  return s
    .replace(/[\u0091\u2018\u201B\u2039]/g, '`')
    .replace(/[\u0092\u2019\u203A]/g, "'")
    .replace(/[\u0093\u201C\u00AB]/g, '``')
    .replace(/[\u0094\u201D\u00BB]/g, "''");
}

function normalizeFractions(s: string): string {
  return s.replace(/\u00BC/g, '1\\/4').replace(/\u00BD/g, '1\\/2').replace(/\u00BE/g, '3\\/4').replace(/\u2153/g, '1\\/3');
}

function normalizeCurrency(s: string): string {
  return s.replace(/\u00A2/g, 'cents').replace(/\u00A3/g, '#').replace(/[\u0080\u00A4\u20A0\u20AC]/g, '$');
}

const keep: Action = (t) => t;
const drop: Action = () => null;
const pushbackOne = (t: string): number => t.length - 1;

function rule(src: string, action: Action, consume?: (t: string) => number): Rule {
  return { re: new RegExp(src, 'uy'), ctx: false, action, consume };
}
function ctxRule(tokenSrc: string, ctxSrc: string, action: Action, consume?: (t: string) => number): Rule {
  return { re: new RegExp(`(${tokenSrc})(?:${ctxSrc})`, 'uy'), ctx: true, action, consume };
}

/** The rules in PTBLexer.flex priority order (ties in match length go to the earlier rule). */
const RULES: Rule[] = [
  rule(ci('cannot'), (t) => t.slice(0, 3), () => 3),
  rule(SGML, keep),
  rule(`${ci('&(?:MD|mdash|ndash);')}|[\\u0096\\u0097\\u2013\\u2014\\u2015]`, () => '--'),
  rule(AMP_ENTITY, () => '&'),
  rule(ci('&(?:HT|TL|UR|LR|QC|QL|QR|odq|cdq|#[0-9]+);'), keep),
  ctxRule(WORD, REDAUX, (t) => americanize(removeSoftHyphens(t))),
  ctxRule(SWORD, SREDAUX, removeSoftHyphens),
  rule(WORD, (t) => americanize(removeSoftHyphens(t))),
  ...APOWORDS.map((src) => rule(src, keep)),
  ctxRule(`[yY]${APOS}`, '\\p{L}', keep),
  rule(FULLURL, (t) => delimit(delimit(t, '/'), '*')),
  ...LIKELYURLS.map((src) => rule(src, (t) => delimit(delimit(t, '/'), '*'))),
  rule(EMAIL, keep),
  ctxRule(REDAUX, '[^A-Za-z]', (t) => latexQuotes(t, false)),
  rule(SREDAUX, (t) => latexQuotes(t, false)),
  rule(DATE, (t) => delimit(t, '/')),
  rule(NUMBER, removeSoftHyphens),
  rule(SUBSUPNUM, keep),
  rule(FRAC, (t) => delimit(t, '/').replace(/ /g, '\u00A0')),
  rule(FRAC2, normalizeFractions),
  rule(TBSPEC, normalizeAmp),
  rule(THING3, (t) => delimit(t, '/')),
  rule(DOLSIGN, keep),
  rule(DOLSIGN2, normalizeCurrency),
  ctxRule(ACRONYM, `${SPACES}${ACRONYM_NEXT}${SPACE}`, keep, pushbackOne),
  ctxRule(ABBREV1, SENTEND, keep, pushbackOne),
  rule(ABBREV1, keep),
  rule(ABBREV2, keep),
  ctxRule(ABBREV4, SPACE, keep),
  ctxRule(ACRO, SPACENL, keep),
  ctxRule(TBSPEC2, SPACENL, keep),
  ctxRule(`${WORD}\\.`, INSENTP, removeSoftHyphens),
  rule(PHONE, (t) => t.replace(/ /g, '\u00A0').replace(/\(/g, '-LRB-').replace(/\)/g, '-RRB-')),
  ctxRule(DBLQUOT, '[A-Za-z0-9$]', (t) => latexQuotes(t, true)),
  rule(DBLQUOT, (t) => latexQuotes(t, false)),
  rule('\\+', keep),
  rule('[%&\\u2030\\u2031]', keep),
  rule('[~^]', keep),
  rule('[|\\\\\\x7f]', drop),
  rule(OPBRAC, () => '-LRB-'),
  rule(CLBRAC, () => '-RRB-'),
  rule('\\{', () => '-LCB-'),
  rule('\\}', () => '-RCB-'),
  rule('\\(', () => '-LRB-'),
  rule('\\)', () => '-RRB-'),
  rule('-+', (t) => (t.length >= 3 && t.length <= 4 ? '--' : t)),
  rule(LDOTS, () => '...'),
  rule('(?:@+|#+|_+)', keep),
  rule('(?:\\*+|(?:\\\\\\*){1,3})', (t) => delimit(t, '*')),
  rule(INSENTP, keep),
  rule('[?!]+', keep),
  rule('[.\\u00A1\\u00BF\\u037E\\u0589\\u061F\\u06D4\\u0700-\\u0702\\u07FA]', keep),
  rule('=', keep),
  rule('\\/', () => '\\/'),
  ctxRule(`${HTHING}\\.`, INSENTP, removeSoftHyphens),
  rule(HTHING, removeSoftHyphens),
  ctxRule(`${THING}\\.`, INSENTP, keep),
  rule(THING, keep),
  ctxRule(`${THINGA}\\.`, INSENTP, normalizeAmp),
  rule(THINGA, normalizeAmp),
  ctxRule("'", "[A-Za-z][^ \\t\\n\\r\\u00A0]", (t) => latexQuotes(t, true)),
  rule(REDAUX, (t) => latexQuotes(t, false)),
  rule(QUOTES, (t) => latexQuotes(t, false)),
  rule(MISCSYMBOL, keep),
  rule(SKIP, drop),
];

/** Lower-cased abbreviation words: a word before "." is only fast-pathed when it is not one of these. */
const ABBREV_WORDS: ReadonlySet<string> = new Set(
  [ABMONTH, ABDAYS, ABSTATE, ABTITLE, ABPTIT, ABCOMP, ABCOMP2, ABNUM, 'etc|al|seq|vs|Alex|Wm|Jos|Cie|cf|TREAS']
    .join('|')
    .replace(/\[([A-Z])\]/g, '$1')
    .split('|')
    .flatMap(expandSimplePattern)
    .map((w) => w.toLowerCase()),
);

/** Expand the tiny patterns of the abbreviation lists (`Drs?`, `Pp?tys?`, `Co?mdr`, `M[ft]g`). */
function expandSimplePattern(p: string): string[] {
  let forms = [''];
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '[') {
      const end = p.indexOf(']', i);
      const alts = p.slice(i + 1, end).split('');
      forms = forms.flatMap((f) => alts.map((a) => f + a));
      i = end;
    } else if (p[i + 1] === '?') {
      forms = forms.flatMap((f) => [f, f + c]);
      i++;
    } else if (c === '(' || c === ')' || c === '\\') {
      // (Ed|Ph)\.D contain a dot: never a plain word, nothing to add
      return [];
    } else {
      forms = forms.map((f) => f + c);
    }
  }
  return forms;
}

// ---------------------------------------------------------------------------------------------
// Scanner

function isLexerSpace(c: number): boolean {
  return (
    c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0b || c === 0x0c || c === 0x00 ||
    c === 0xa0 || c === 0x85 || (c >= 0x2000 && c <= 0x200b) || c === 0x200e || c === 0x200f ||
    c === 0x2028 || c === 0x2029 || c === 0x3000 || c === 0xfeff
  );
}

const isAsciiLetter = (c: number): boolean => (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a);

/** One step of the general scanner at `pos`: the longest-matching rule wins, earlier rule on ties. */
function generalStep(s: string, pos: number, sink: Sink): number {
  let best: Rule | null = null;
  let bestLen = 0;
  let bestText = '';
  for (let r = 0; r < RULES.length; r++) {
    const rl = RULES[r];
    rl.re.lastIndex = pos;
    const m = rl.re.exec(s);
    if (m !== null && m[0].length > bestLen) {
      best = rl;
      bestLen = m[0].length;
      bestText = rl.ctx ? m[1] : m[0];
    }
  }
  if (best === null || bestText.length === 0) {
    // Untokenizable character: PTBTokenizer's default ("firstDelete") drops it.
    return pos + 1;
  }
  const tok = best.action(bestText);
  if (tok !== null && tok.length > 0) sink.push(tok);
  const consumed = best.consume ? best.consume(bestText) : bestText.length;
  return pos + Math.max(1, consumed);
}

/**
 * Receives the tokens of the scanner. In COCO mode tokens are lower-cased and pycocoevalcap's
 * punctuation tokens dropped on the way in; `plain` stays true while every kept token is printable
 * ASCII (no space), which lets the scorers skip a re-split.
 */
class Sink {
  plain = true;
  constructor(readonly out: string[], readonly coco: boolean) {}
  /** A token from the general scanner: anything. */
  push(tok: string): void {
    if (!this.coco) {
      this.out.push(tok);
      return;
    }
    const low = tok.toLowerCase();
    if (COCO_PUNCTUATIONS.has(low)) return;
    if (this.plain && /[^\x21-\x7e]/.test(low)) this.plain = false;
    this.out.push(low);
  }
  /** A word of ASCII letters (and digits, hyphens, apostrophes) from the fast path. */
  word(tok: string): void {
    this.out.push(this.coco ? tok.toLowerCase() : tok);
  }
  /** Punctuation from the fast path (`,;:!?.` and hyphen runs): dropped in COCO mode when listed. */
  punct(tok: string): void {
    if (!this.coco || !COCO_PUNCTUATIONS.has(tok)) this.out.push(tok);
  }
}

function scan(text: string, sink: Sink, fast: boolean): void {
  // JFlex 1.4 scans UTF-16 code units and knows no character outside the BMP: every surrogate is an
  // untokenizable unit (deleted). U+0001 is untokenizable too, so it stands in for them.
  const t = /[\uD800-\uDFFF]/.test(text) ? text.replace(/[\uD800-\uDFFF]/g, '\u0001') : text;
  const n = t.length;
  // Every caption is one line of the tokenizer's input, followed by a newline; the general scanner
  // sees that newline (trailing-context rules look at it), the fast path treats the end as one.
  let padded: string | null = null;
  let pos = 0;
  while (pos < n) {
    const c = t.charCodeAt(pos);
    if (isLexerSpace(c)) {
      pos++;
      continue;
    }
    if (fast && c < 0x80) {
      let end = pos + 1;
      while (end < n && !isLexerSpace(t.charCodeAt(end))) end++;
      // Only a space, tab, CR, LF or FF ends every token class: URL and e-mail patterns run on
      // through no-break and other Unicode spaces, so such chunks take the general scanner.
      const e = end < n ? t.charCodeAt(end) : 0x0a;
      if ((e === 0x20 || e === 0x0a || e === 0x09 || e === 0x0d || e === 0x0c) && fastChunk(t, pos, end, sink)) {
        pos = end;
        continue;
      }
    }
    if (padded === null) padded = t + '\n';
    pos = generalStep(padded, pos, sink);
  }
}

/**
 * PTB tokens of one line, as PTBTokenizer 3.4.1 with default options returns them (before
 * lower-casing and before pycocoevalcap's punctuation removal). `fastPath: false` runs every chunk
 * through the general scanner (for tests: both must agree).
 */
export function ptbTokens(text: string, options: { fastPath?: boolean } = {}): string[] {
  const out: string[] = [];
  scan(text, new Sink(out, false), options.fastPath !== false);
  return out;
}

/**
 * Fast path for a whitespace-delimited chunk of the most common shapes: ASCII letters (optionally
 * with a clitic `'s 'm 'd 're 've 'll` or `n't`), hyphenated ASCII words, ASCII digits or a run of
 * hyphens, each with an optional trailing `,;:!?`, `.` or `..`, or that punctuation alone. Returns the position after the chunk, or 0 when the chunk
 * needs the general scanner. Every case handled here gives the same tokens as the general scanner
 * (a test checks this on random strings).
 */
const FAST_CHUNK =
  /^(?:(?:([A-Za-z]+)(?:(['\u2019](?:[msdMSD]|[rR][eE]|[vV][eE]|[lL][lL]))|(?<=[A-MO-Za-mo-z])([nN])['\u2019]([tT]))?)|([0-9]+)|(-+)|([A-Za-z]+(?:-[A-Za-z]+)+))?([,;:!?]|\.\.?)?$/;

const isPunct1 = (c: number): boolean => c === 0x2c || c === 0x3b || c === 0x3a || c === 0x21 || c === 0x3f;

function fastChunk(s: string, start: number, end: number, sink: Sink): boolean {
  const n = end - start;
  // The overwhelmingly common cases: a word of ASCII letters, alone or before one `,;:!?` or `.`.
  let i = start;
  while (i < end && isAsciiLetter(s.charCodeAt(i))) i++;
  if (i > start && (i === end || (i === end - 1 && (isPunct1(s.charCodeAt(i)) || s.charCodeAt(i) === 0x2e)))) {
    const wl = i - start;
    if (wl === 6 && s.slice(start, i).toLowerCase() === 'cannot') return false;
    if (i === end) {
      sink.word(americanize(s.slice(start, i)));
      return true;
    }
    const p = s.charCodeAt(i);
    if (p === 0x2e) {
      if (wl < 2) return false; // single letters are abbreviations ("a.")
      const w = s.slice(start, i);
      if (ABBREV_WORDS.has(w.toLowerCase())) return false;
      // ". . ." (dots separated by spaces) is an ellipsis: leave it to the general scanner
      if (s.charCodeAt(end + 1) === 0x2e) return false;
      sink.word(americanize(w));
      sink.punct('.');
      return true;
    }
    sink.word(americanize(s.slice(start, i)));
    sink.punct(s[i]);
    return true;
  }
  const m = FAST_CHUNK.exec(s.slice(start, start + n));
  if (m === null) return false;
  const [, word, redaux, nN, tT, digits, hyphens, hthing, punct] = m;
  if (punct !== undefined && punct[0] === '.') {
    if (s.charCodeAt(end + 1) === 0x2e) return false;
    if (word !== undefined && redaux === undefined && nN === undefined) {
      if (word.length < 2) return false;
      if (ABBREV_WORDS.has(word.toLowerCase())) return false;
    }
  }
  if (word !== undefined) {
    if (word.length === 6 && word.toLowerCase() === 'cannot') return false;
    if (redaux !== undefined) {
      sink.word(americanize(word));
      sink.word("'" + redaux.slice(1));
    } else if (nN !== undefined) {
      sink.word(word);
      sink.word(nN + "'" + tT);
    } else {
      sink.word(americanize(word));
    }
  } else if (digits !== undefined) {
    // "555 123 4567" (phone) and "5 7/8" (fraction) continue across the space
    const next = s.charCodeAt(end + 1);
    if (next >= 0x30 && next <= 0x39) return false;
    sink.word(digits);
  } else if (hyphens !== undefined) {
    sink.punct(hyphens.length >= 3 && hyphens.length <= 4 ? '--' : hyphens);
  } else if (hthing !== undefined) {
    sink.word(hthing); // hyphenated words stay whole (HTHING)
  }
  if (punct !== undefined) {
    if (punct === '..') {
      sink.punct('.');
      sink.punct('.');
    } else {
      sink.punct(punct);
    }
  }
  return true;
}

/**
 * COCO tokenization of one caption into `out`: PTB tokens, lower-cased, without pycocoevalcap's
 * punctuation tokens. Returns true when every token is printable ASCII.
 */
export function cocoTokensInto(caption: string, out: string[]): boolean {
  const sink = new Sink(out, true);
  scan(caption.indexOf('\n') >= 0 ? caption.replace(/\n/g, ' ') : caption, sink, true);
  return sink.plain;
}

/** COCO tokenization of one caption as a token list. */
export function cocoTokens(caption: string): string[] {
  const out: string[] = [];
  cocoTokensInto(caption, out);
  return out;
}

/**
 * COCO tokenization of one caption: the tokens of `cocoTokens` joined by single spaces. This is the
 * string every COCO scorer consumes.
 */
export function cocoTokenizeOne(caption: string): string {
  return cocoTokens(caption).join(' ');
}

/** COCO tokenization (pycocoevalcap `PTBTokenizer`): one caption or a list of captions. */
export function cocoTokenize(caption: string): string;
export function cocoTokenize(captions: readonly string[]): string[];
export function cocoTokenize(input: string | readonly string[]): string | string[] {
  if (typeof input === 'string') return cocoTokenizeOne(input);
  return input.map((c) => cocoTokenizeOne(c));
}
