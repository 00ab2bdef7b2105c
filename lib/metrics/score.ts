/**
 * `scoreCaptions`: the COCO caption evaluation (pycocoevalcap's COCOEvalCap) in one synchronous call:
 * PTB tokenization, then Bleu_1..4, ROUGE_L and CIDEr, plus METEOR when a METEOR 1.5 jar and Java are
 * available.
 */
import { InvalidArgumentError, describe } from '../errors.js';
import { cocoBleu, cocoCider, cocoRouge, prepareCorpus, prepareTokenized, type CocoImage, type PreparedCorpus, type TokenizedImage } from './coco.js';
import { alignCaptions, type PredictionsInput, type ReferencesInput } from './inputs.js';
import { meteorJarScore, meteorUnavailableReason } from './meteor-jar.js';
import { cocoTokensInto } from './ptb.js';

/** Scorer names as pycocoevalcap's COCOEvalCap reports them (Bleu gives Bleu_1..Bleu_4). */
export type CocoMetricName = 'Bleu' | 'METEOR' | 'ROUGE_L' | 'CIDEr';

export const COCO_METRICS: readonly CocoMetricName[] = ['Bleu', 'METEOR', 'ROUGE_L', 'CIDEr'];

/** The score keys a set of COCO metrics reports (Bleu gives Bleu_1..Bleu_4; METEOR is optional, see CocoImageScores). */
export type KeysOf<M extends CocoMetricName> =
  | (M extends 'Bleu' ? 'Bleu_1' | 'Bleu_2' | 'Bleu_3' | 'Bleu_4' : never)
  | (M extends 'ROUGE_L' ? 'ROUGE_L' : never)
  | (M extends 'CIDEr' ? 'CIDEr' : never);

/** Scores of one image (or of the corpus). METEOR is present only when METEOR 1.5 ran. */
export type CocoImageScores<M extends CocoMetricName = CocoMetricName> = { [K in KeysOf<M>]: number } & {
  METEOR?: number;
};

export type CocoScores<M extends CocoMetricName = CocoMetricName> = CocoImageScores<M> & {
  /** Per-image scores keyed by image id (only with `perImage: true`). */
  perImage?: Record<string, CocoImageScores<M>>;
};

export interface ScoreCaptionsOptions<M extends CocoMetricName = CocoMetricName> {
  /** Which scorers to run; default all four. */
  metrics?: readonly M[];
  /** Also return per-image scores (`perImage`, keyed by image id). Default false. */
  perImage?: boolean;
  /**
   * Run the COCO PTB tokenization first (default true). Set false when the captions are already
   * COCO-tokenized (lower-cased, punctuation removed, space-separated).
   */
  tokenize?: boolean;
  /** Path of a METEOR 1.5 jar (default: env METEOR_JAR). Java must be on PATH (or see `java`). */
  meteorJar?: string;
  /** Java executable used for METEOR (default `java`). */
  java?: string;
}

let meteorWarned = false;

function warnMeteorOnce(reason: string): void {
  if (meteorWarned) return;
  meteorWarned = true;
  console.warn(
    `[torch-caption] METEOR left out of the COCO scores: ${reason}. COCO METEOR is METEOR 1.5 (Java); ` +
      'metrics.meteor is the different NLTK/HF evaluate flavour and is never reported as COCO METEOR.',
  );
}

/**
 * COCO caption scores, the numbers pycocoevalcap reports: `{Bleu_1, Bleu_2, Bleu_3, Bleu_4, ROUGE_L,
 * CIDEr}` and `METEOR` when a METEOR 1.5 jar is given and Java runs.
 *
 * @param predictions COCO results `[{image_id, caption}]`, a map `{id: caption}` or a list of captions
 * @param references COCO annotations `{annotations: [{image_id, caption}]}`, a map `{id: [refs]}`, or
 *   (with a list of predictions) a list of reference lists
 */
export function scoreCaptions<M extends CocoMetricName = CocoMetricName>(
  predictions: PredictionsInput,
  references: ReferencesInput,
  options: ScoreCaptionsOptions<M> = {},
): CocoScores<M> {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError(`Expected an options object for scoreCaptions options but received ${describe(options)}`);
  }
  const metrics = (options.metrics ?? COCO_METRICS) as readonly CocoMetricName[];
  if (!Array.isArray(metrics) || metrics.length === 0) {
    throw new InvalidArgumentError(`Expected a non-empty list of ${COCO_METRICS.join(', ')} for options.metrics but received ${describe(metrics)}`);
  }
  for (const m of metrics) {
    if (!COCO_METRICS.includes(m)) {
      throw new InvalidArgumentError(`Expected one of ${COCO_METRICS.join(', ')} for options.metrics but received ${describe(m)}`);
    }
  }
  const aligned = alignCaptions(predictions, references);
  if (aligned.ids.length === 0) {
    throw new InvalidArgumentError('Expected at least one prediction for predictions but received none');
  }
  let prep: PreparedCorpus;
  let images: CocoImage[] | null = null;
  if (options.tokenize === false) {
    images = aligned.predictions.map((p, i) => ({ hyp: p, refs: aligned.references[i] }));
    prep = prepareCorpus(images, 4);
  } else {
    const toks: TokenizedImage[] = [];
    const plain: boolean[] = [];
    const base: number[] = [];
    aligned.predictions.forEach((p, i) => {
      base.push(plain.length);
      const hyp: string[] = [];
      plain.push(cocoTokensInto(p, hyp));
      const refs = aligned.references[i].map((r) => {
        const t: string[] = [];
        plain.push(cocoTokensInto(r, t));
        return t;
      });
      toks.push({ hyp, refs });
    });
    prep = prepareTokenized(toks, 4, (i, c) => plain[base[i] + c]);
    if (metrics.includes('METEOR')) {
      images = toks.map((t) => ({ hyp: t.hyp.join(' '), refs: t.refs.map((r) => r.join(' ')) }));
    }
  }

  const corpus: Record<string, number> = {};
  const per: Record<string, ArrayLike<number>> = {};
  // keys in COCOEvalCap order: Bleu_1..4, METEOR, ROUGE_L, CIDEr
  for (const name of COCO_METRICS) {
    if (!metrics.includes(name)) continue;
    if (name === 'Bleu') {
      const b = cocoBleu(prep);
      for (let k = 0; k < 4; k++) {
        corpus[`Bleu_${k + 1}`] = b.corpus[k];
        per[`Bleu_${k + 1}`] = b.perImage[k];
      }
    } else if (name === 'METEOR') {
      addMeteor(images ?? [], options, corpus, per);
    } else if (name === 'ROUGE_L') {
      const r = cocoRouge(prep);
      corpus.ROUGE_L = r.corpus;
      per.ROUGE_L = r.perImage;
    } else {
      const c = cocoCider(prep);
      corpus.CIDEr = c.corpus;
      per.CIDEr = c.perImage;
    }
  }

  const result: Record<string, unknown> = { ...corpus };
  if (options.perImage) {
    const perImage: Record<string, Record<string, number>> = {};
    aligned.ids.forEach((id, i) => {
      const s: Record<string, number> = {};
      for (const key of Object.keys(corpus)) s[key] = per[key][i];
      perImage[id] = s;
    });
    result.perImage = perImage;
  }
  return result as CocoScores<M>;
}

function addMeteor(
  images: CocoImage[],
  options: ScoreCaptionsOptions<CocoMetricName>,
  corpus: Record<string, number>,
  per: Record<string, ArrayLike<number>>,
): void {
  const jar = options.meteorJar ?? process.env.METEOR_JAR;
  const reason = meteorUnavailableReason({ jar, java: options.java });
  if (reason !== null || jar === undefined) {
    warnMeteorOnce(reason ?? 'no METEOR jar');
    return;
  }
  const m = meteorJarScore({ jar, java: options.java }, images);
  corpus.METEOR = m.corpus;
  per.METEOR = m.perImage;
}

/** For tests: forget that the METEOR warning was printed. */
export function resetMeteorWarning(): void {
  meteorWarned = false;
}
