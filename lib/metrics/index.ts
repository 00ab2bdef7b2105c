/**
 * Caption metrics.
 *
 * COCO (pycocoevalcap 1.2, the numbers captioning papers report):
 *   `scoreCaptions(predictions, references)` -> { Bleu_1..Bleu_4, ROUGE_L, CIDEr } (+ METEOR with a
 *   METEOR 1.5 jar and Java); `cocoTokenize` is its PTB tokenization step.
 * Hugging Face `evaluate` flavours (same argument and key names as evaluate):
 *   `bleu`, `rouge`, `meteor` (NLTK), `wer`.
 *
 * `import { metrics } from '@acme/torch-caption'` exposes this module as a namespace.
 */
export { scoreCaptions, COCO_METRICS } from './score.js';
export type { CocoMetricName, CocoScores, CocoImageScores, ScoreCaptionsOptions } from './score.js';
export type { KeysOf } from './score.js';
export type { CaptionNgrams } from './ngrams.js';
export { cocoTokenize, cocoTokens, ptbTokens, americanize, COCO_PUNCTUATIONS } from './ptb.js';
export { cocoBleu, cocoCider, cocoRouge, prepareCorpus, prepareTokenized } from './coco.js';
export type { CocoImage, CocoBleuResult, CorpusAndPerImage, PreparedCorpus, TokenizedImage } from './coco.js';
export { alignCaptions } from './inputs.js';
export type {
  AlignedCaptions,
  CocoAnnotation,
  CocoAnnotationsFile,
  CocoResult,
  ImageId,
  PredictionsInput,
  ReferencesInput,
} from './inputs.js';
export { bleu, rouge, rougeScore, wer, werCounts, werWords, editDistance } from './evaluate.js';
export type {
  BleuOptions,
  BleuResult,
  HfPredictions,
  HfReferences,
  RougeOptions,
  RougeScore,
  RougeType,
  WerOptions,
} from './evaluate.js';
export { meteor, meteorDetails, meteorAlign } from './meteor.js';
export type { MeteorAlignment, MeteorImageDetails, MeteorOptions, MeteorResult } from './meteor.js';
export { meteorJarScore } from './meteor-jar.js';
export type { MeteorJarOptions, MeteorJarResult } from './meteor-jar.js';
export { nltkWordTokenize, rougeTokenize, tokenize13a } from './tokenizers.js';
export { porterStem } from './porter.js';
export { WordNet } from './wordnet.js';
export type { WordNetPos } from './wordnet.js';
