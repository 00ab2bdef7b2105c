import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { americanize, cocoTokenize, ptbTokens } from '../../lib/metrics/index.js';

describe('COCO PTB tokenization', () => {
  it('lower-cases, splits clitics and drops pycocoevalcap punctuation', () => {
    expect(cocoTokenize("A dog doesn't bark, it's QUIET.")).toBe("a dog does n't bark it 's quiet");
    expect(cocoTokenize("They're here; I'm there: we've, you'll, she'd!")).toBe("they 're here i 'm there we 've you 'll she 'd");
    expect(cocoTokenize("The players' ball")).toBe('the players ball');
    expect(cocoTokenize("THE OWNER'S DOG ISN'T HAPPY")).toBe("the owner 's dog is n't happy");
    expect(cocoTokenize('a black-and-white double-decker bus - on a road -- at night..')).toBe(
      'a black-and-white double-decker bus on a road at night',
    );
    expect(cocoTokenize('Where is it?')).toBe('where is it');
    expect(cocoTokenize('two  spaces\tand\ttabs')).toBe('two spaces and tabs');
    expect(cocoTokenize('')).toBe('');
    expect(cocoTokenize('...')).toBe('');
  });

  it('keeps what PTBTokenizer keeps after lower-casing (-lrb-, \\/, &, ?!)', () => {
    // pycocoevalcap lower-cases before filtering, so -LRB-/-RRB- are never removed
    expect(cocoTokenize('A man (left) and a cat')).toBe('a man -lrb- left -rrb- and a cat');
    expect(cocoTokenize('cats and/or dogs')).toBe('cats and\\/or dogs');
    expect(cocoTokenize('salt & pepper')).toBe('salt & pepper');
    expect(cocoTokenize('What?!')).toBe('what ?!');
    expect(cocoTokenize('He said "hello" to me')).toBe('he said hello to me');
  });

  it('splits cannot, numbers, currency and abbreviations like PTB', () => {
    expect(ptbTokens('I cannot go')).toEqual(['I', 'can', 'not', 'go']);
    expect(ptbTokens("can't won't")).toEqual(['ca', "n't", 'wo', "n't"]);
    expect(ptbTokens('It costs $5.50 at 10:30.')).toEqual(['It', 'costs', '$', '5.50', 'at', '10:30', '.']);
    expect(ptbTokens('3/4 of a cup')).toEqual(['3\\/4', 'of', 'a', 'cup']);
    expect(ptbTokens('Mr. Smith lives in the U.S. today')).toEqual(['Mr.', 'Smith', 'lives', 'in', 'the', 'U.S.', 'today']);
    expect(ptbTokens('Go etc. Then')).toEqual(['Go', 'etc.', '.', 'Then']);
    expect(ptbTokens('wait... now')).toEqual(['wait', '...', 'now']);
    expect(ptbTokens('a \u201Cquoted\u201D word\u2019s end')).toEqual(['a', '``', 'quoted', "''", 'word', "'s", 'end']);
    expect(ptbTokens('em\u2014dash')).toEqual(['em', '--', 'dash']);
  });

  it('americanizes WORD tokens as CoreNLP does (before lower-casing)', () => {
    expect(americanize('grey')).toBe('gray');
    expect(americanize('colour')).toBe('color');
    expect(americanize('colourful')).toBe('colorful');
    expect(americanize('neighbours')).toBe('neighbors');
    expect(americanize('contour')).toBe('contour');
    expect(americanize('four')).toBe('four');
    expect(americanize('programme')).toBe('program');
    expect(cocoTokenize('A grey cat in the theatre centre')).toBe('a gray cat in the theater center');
    expect(cocoTokenize('GREY cat')).toBe('grey cat');
  });

  it('deletes untokenizable characters (emoji, other astral characters)', () => {
    expect(cocoTokenize('a dog \u{1F436} running')).toBe('a dog running');
    expect(cocoTokenize('caf\u00E9 na\u00EFve')).toBe('caf\u00E9 na\u00EFve');
  });

  it('gives the same tokens with and without the fast path', () => {
    const pieces = ['a', 'Dog', 'cannot', 'etc', 'Mr', 'x', 'grey', "'s", "n't", "'", '.', '..', '...', ',', '!', '?', ':', ';', '-', '--', '---', '1', '23', '4.5', '(', ')', '"', '/', '&', '@', 'www', 'com', 'U.S', '\u2019', '\u00E9'];
    const chunk = fc.array(fc.constantFrom(...pieces), { minLength: 1, maxLength: 4 }).map((p) => p.join(''));
    const text = fc.array(fc.tuple(chunk, fc.constantFrom(' ', '  ', '\t', '\u00A0')), { maxLength: 8 }).map((xs) => xs.map(([c, s]) => c + s).join(''));
    fc.assert(
      fc.property(text, (s) => {
        expect(ptbTokens(s)).toEqual(ptbTokens(s, { fastPath: false }));
      }),
      { numRuns: 5000 },
    );
  });
});
