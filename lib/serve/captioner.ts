/**
 * Captioner: dynamic batching for concurrent caption requests (docs/serving.md).
 *
 * Each `caption(image, options)` is validated and preprocessed on its own (so a bad image or a bad option
 * fails only its own request), then waits in a group of requests with the same effective generation options
 * and pixel shape. A group runs as one batched `model.generate` when it has `maxBatchSize` requests, or when
 * its oldest request has waited `maxWaitMs`, whichever comes first, and the model is not already running a
 * batch of this Captioner (one batch in flight: the next one fills while it runs). Each request gets exactly
 * what an unbatched generate of its image returns (the batch's padding beyond its own sequences is cut off).
 */
import { ClosedError, expected, QueueFullError } from '../errors.js';
import { Tensor } from '../tensor.js';
import type { GenerateOptions } from '../models/generation.js';
import type { CaptioningModel } from '../models/captioning-model.js';
import { pipeline, type ImageToTextOutput, type ImageToTextPipeline, type PipelineOptions } from '../pipeline.js';
import type { CaptionTokenizer, ImageInput, ImagePreprocessor } from '../types.js';

/** How requests are coalesced into batches. */
export interface BatchingOptions {
  /** Most requests in one generate call (default 16). 1 turns batching off. */
  maxBatchSize?: number;
  /** Longest a request waits for its batch to fill, in ms, once preprocessed (default 10). 0: run as soon as the model is free. */
  maxWaitMs?: number;
  /** Most requests waiting (being preprocessed or queued, not yet running); more are rejected with QueueFullError (default 256). */
  maxQueue?: number;
}

export interface CaptionerOptions extends BatchingOptions {
  imageProcessor: ImagePreprocessor;
  tokenizer: Pick<CaptionTokenizer, 'decode'>;
  /** What /health and stats report as the model (default: the folder or hub id given to fromPretrained, else 'model'). */
  name?: string;
}

/** Per-request options: generation options with Hugging Face names, plus an AbortSignal. */
export type CaptionOptions = Partial<GenerateOptions> & {
  /** Aborting rejects the request with the signal's reason; a waiting request leaves the queue, a running one's result is dropped. */
  signal?: AbortSignal;
};

/** One image's result: the pipeline's `generated_text` plus the tokens an unbatched generate returns. */
export interface CaptionOutput extends ImageToTextOutput {
  /** The best sequence decoded (skip_special_tokens, trimmed), as `pipeline` gives it. */
  generated_text: string;
  /** One text per returned sequence (num_return_sequences), best first; [0] is generated_text. */
  generated_texts: string[];
  /** Token ids, start token first, padded as `model.generate` on this image alone pads them. */
  sequences: number[][];
  /** Beam search only: the length-penalised log-probabilities (computed in the batch, equal to an unbatched run up to float rounding). */
  sequences_scores?: number[];
}

export interface CaptionerStats {
  /** Requests accepted (admitted to the queue). */
  requests: number;
  /** Requests resolved with a caption. */
  completed: number;
  /** Accepted requests that failed (bad image, aborted, generate error). */
  failed: number;
  /** Requests refused at the door: queue full, closed, or invalid options. */
  rejected: number;
  /** generate calls made. */
  batches: number;
  /** Batch size -> number of batches of that size. */
  batchSizes: Record<number, number>;
  /** Requests waiting now: being preprocessed or queued for a batch. */
  queueDepth: number;
  /** Requests in the batch running now. */
  running: number;
}

type State = 'preprocessing' | 'queued' | 'running' | 'done';

interface Request {
  state: State;
  key: string;
  options: GenerateOptions;
  pixels: Tensor<'float32'> | null;
  readyAt: number;
  resolve: (out: CaptionOutput) => void;
  reject: (err: unknown) => void;
  cleanup: () => void;
}

const DEFAULTS = { maxBatchSize: 16, maxWaitMs: 10, maxQueue: 256 } as const;

/** Length of a sequence up to and including its end token (the start token at 0 may equal it). */
function ownLength(seq: readonly number[], eos: number | null): number {
  if (eos === null) return seq.length;
  const i = seq.indexOf(eos, 1);
  return i < 0 ? seq.length : i + 1;
}

/**
 * One image's sequences out of a batch, as generate on the image alone returns them: padded to the longest of
 * its own sequences (greedy and beam search pad to the longest sequence of the batch; beam search ends a
 * hypothesis with one end token).
 */
export function trimSequences(seqs: readonly number[][], eos: number | null): number[][] {
  const len = Math.max(...seqs.map((s) => ownLength(s, eos)));
  return seqs.map((s) => s.slice(0, len));
}

/** Concatenate [1, ...] tensors of one shape along the first axis. */
function concat(tensors: readonly Tensor<'float32'>[]): Tensor<'float32'> {
  const per = tensors[0]!.size;
  const out = new Float32Array(per * tensors.length);
  tensors.forEach((t, i) => out.set(t.data, i * per));
  return Tensor.from(out, [tensors.length, ...tensors[0]!.shape.slice(1)]) as Tensor<'float32'>;
}

/** A canonical key: JSON with sorted keys. */
function stableKey(o: Record<string, unknown>): string {
  return JSON.stringify(Object.keys(o).sort().map((k) => [k, o[k]]));
}

function checkBatching(opts: BatchingOptions): Required<BatchingOptions> {
  const o = { ...DEFAULTS, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) } as Required<BatchingOptions>;
  if (!Number.isInteger(o.maxBatchSize) || o.maxBatchSize < 1) expected('a positive integer', 'maxBatchSize', o.maxBatchSize);
  if (!(Number.isFinite(o.maxWaitMs) && o.maxWaitMs >= 0)) expected('a non-negative number of milliseconds', 'maxWaitMs', o.maxWaitMs);
  if (!Number.isInteger(o.maxQueue) || o.maxQueue < 1) expected('a positive integer', 'maxQueue', o.maxQueue);
  return { maxBatchSize: o.maxBatchSize, maxWaitMs: o.maxWaitMs, maxQueue: o.maxQueue };
}

export class Captioner {
  readonly model: CaptioningModel;
  readonly imageProcessor: ImagePreprocessor;
  readonly tokenizer: Pick<CaptionTokenizer, 'decode'>;
  readonly name: string;
  /** The batching options in effect. */
  readonly batching: Readonly<Required<BatchingOptions>>;

  #groups = new Map<string, Request[]>();
  #waiting = 0;
  #running = 0;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  #drained: Promise<void> | null = null;
  #onDrained: (() => void) | null = null;
  #seq = 0;
  #stats = { requests: 0, completed: 0, failed: 0, rejected: 0, batches: 0 };
  #sizes = new Map<number, number>();

  constructor(model: CaptioningModel, opts: CaptionerOptions) {
    if (!opts || typeof opts.imageProcessor?.preprocess !== 'function') expected('an image processor', 'Captioner imageProcessor', opts?.imageProcessor);
    if (typeof opts.tokenizer?.decode !== 'function') expected('a tokenizer', 'Captioner tokenizer', opts.tokenizer);
    this.model = model;
    this.imageProcessor = opts.imageProcessor;
    this.tokenizer = opts.tokenizer;
    this.name = opts.name ?? 'model';
    this.batching = Object.freeze(checkBatching(opts));
  }

  /** Load a model folder or hub id with its processor and tokenizer (as `pipeline('image-to-text', ref)`). */
  static async fromPretrained(ref: string, opts: BatchingOptions & PipelineOptions & { name?: string } = {}): Promise<Captioner> {
    const { maxBatchSize, maxWaitMs, maxQueue, name, ...load } = opts;
    const batching = checkBatching({ maxBatchSize, maxWaitMs, maxQueue }); // fail before loading
    return Captioner.fromPipeline(await pipeline('image-to-text', ref, load), { ...batching, name: name ?? ref });
  }

  /** Batch the calls of an existing pipeline's model, processor and tokenizer. */
  static fromPipeline(p: ImageToTextPipeline, opts: BatchingOptions & { name?: string } = {}): Captioner {
    return new Captioner(p.model, { ...opts, imageProcessor: p.imageProcessor, tokenizer: p.tokenizer });
  }

  /** True once close() was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Caption one image (a path, encoded bytes, or raw pixels). Rejects with InvalidArgumentError for a bad
   * option, FormatError (or InvalidArgumentError) for an image that cannot be read, QueueFullError when
   * maxQueue requests are waiting, ClosedError after close().
   */
  caption(image: ImageInput, options: CaptionOptions = {}): Promise<CaptionOutput> {
    const { signal, ...gen } = options ?? {};
    if (this.#closed) return this.#refuse(new ClosedError('The captioner is closed (close() was called); no new requests are accepted'));
    if (this.#waiting >= this.batching.maxQueue) {
      return this.#refuse(new QueueFullError(`The caption queue is full (${this.batching.maxQueue} requests waiting); retry later or raise maxQueue`));
    }
    let o: GenerateOptions;
    try {
      o = this.model.generationOptions(gen);
    } catch (err) {
      return this.#refuse(err);
    }
    if (signal?.aborted) return this.#refuse(signal.reason);
    // Equal effective options share a key (max_new_tokens is already folded into max_length). Sampling
    // requests run alone: their random draws, and so their captions for a seed, would depend on the batch.
    const { max_new_tokens: _folded, ...effective } = o;
    const key = stableKey(effective as unknown as Record<string, unknown>) + (o.do_sample ? `#${++this.#seq}` : '');
    this.#stats.requests++;
    this.#waiting++;
    return new Promise<CaptionOutput>((resolve, reject) => {
      const req: Request = { state: 'preprocessing', key, options: o, pixels: null, readyAt: 0, resolve, reject, cleanup: () => undefined };
      if (signal) {
        const onAbort = (): void => this.#abort(req, signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
        req.cleanup = () => signal.removeEventListener('abort', onAbort);
      }
      this.imageProcessor.preprocess(image).then(
        (pixels) => {
          if (req.state !== 'preprocessing') return; // aborted meanwhile
          req.pixels = pixels as Tensor<'float32'>;
          req.key += `|${pixels.shape.join('x')}`;
          req.state = 'queued';
          req.readyAt = performance.now();
          const group = this.#groups.get(req.key);
          if (group) group.push(req);
          else this.#groups.set(req.key, [req]);
          this.#schedule();
        },
        (err: unknown) => {
          if (req.state !== 'preprocessing') return;
          this.#waiting--;
          this.#fail(req, err);
          this.#schedule();
        },
      );
    });
  }

  /** Counters, the batch-size histogram and the queue depth, as of now. */
  stats(): CaptionerStats {
    return {
      ...this.#stats,
      batchSizes: Object.fromEntries([...this.#sizes].sort((a, b) => a[0] - b[0])),
      queueDepth: this.#waiting,
      running: this.#running,
    };
  }

  /**
   * Stop accepting requests (new ones reject with ClosedError) and resolve once every accepted request has
   * settled. Waiting requests no longer wait for their batch to fill. The model is left loaded.
   */
  close(): Promise<void> {
    this.#closed = true;
    if (!this.#drained) {
      this.#drained = new Promise<void>((resolve) => {
        this.#onDrained = resolve;
      });
    }
    this.#schedule();
    return this.#drained;
  }

  #refuse(err: unknown): Promise<never> {
    this.#stats.rejected++;
    return Promise.reject(err);
  }

  #fail(req: Request, err: unknown): void {
    req.state = 'done';
    req.pixels = null;
    req.cleanup();
    this.#stats.failed++;
    req.reject(err);
  }

  #abort(req: Request, reason: unknown): void {
    if (req.state === 'done') return;
    if (req.state === 'queued') {
      const group = this.#groups.get(req.key)!;
      group.splice(group.indexOf(req), 1);
      if (group.length === 0) this.#groups.delete(req.key);
    }
    if (req.state === 'preprocessing' || req.state === 'queued') this.#waiting--;
    this.#fail(req, reason);
    this.#schedule();
  }

  /** Run the next due batch if the model is free, else arm the timer for the earliest one. */
  #schedule(): void {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    if (this.#running > 0) return; // #run schedules again when its batch is done
    if (this.#closed && this.#waiting === 0) {
      this.#onDrained?.();
      this.#onDrained = null;
      return;
    }
    const now = performance.now();
    const { maxBatchSize, maxWaitMs } = this.batching;
    let due: Request[] | null = null;
    let nextAt = Infinity;
    for (const group of this.#groups.values()) {
      const head = group[0]!;
      const dueAt = this.#closed || group.length >= maxBatchSize ? -Infinity : head.readyAt + maxWaitMs;
      if (dueAt <= now) {
        if (!due || head.readyAt < due[0]!.readyAt) due = group;
      } else {
        nextAt = Math.min(nextAt, dueAt);
      }
    }
    if (due) {
      void this.#run(due);
    } else if (nextAt < Infinity) {
      this.#timer = setTimeout(() => {
        this.#timer = null;
        this.#schedule();
      }, Math.max(0, Math.ceil(nextAt - now)));
    }
  }

  async #run(group: Request[]): Promise<void> {
    const batch = group.splice(0, this.batching.maxBatchSize);
    if (group.length === 0) this.#groups.delete(batch[0]!.key);
    this.#waiting -= batch.length;
    this.#running = batch.length;
    for (const r of batch) r.state = 'running';
    this.#stats.batches++;
    this.#sizes.set(batch.length, (this.#sizes.get(batch.length) ?? 0) + 1);
    const o = batch[0]!.options;
    try {
      const pixels = batch.length === 1 ? batch[0]!.pixels! : concat(batch.map((r) => r.pixels!));
      for (const r of batch) r.pixels = null;
      const { sequences, sequences_scores } = await this.model.generate(pixels, o);
      const per = o.num_return_sequences;
      batch.forEach((r, j) => {
        if (r.state !== 'running') return; // aborted while running
        try {
          const seqs = trimSequences(sequences.slice(j * per, (j + 1) * per), o.eos_token_id);
          const texts = seqs.map((s) => this.tokenizer.decode(s, { skip_special_tokens: true }).trim());
          const out: CaptionOutput = {
            generated_text: texts[0]!,
            generated_texts: texts,
            sequences: seqs,
            ...(sequences_scores ? { sequences_scores: sequences_scores.slice(j * per, (j + 1) * per) } : {}),
          };
          r.state = 'done';
          r.cleanup();
          this.#stats.completed++;
          r.resolve(out);
        } catch (err) {
          this.#fail(r, err);
        }
      });
    } catch (err) {
      for (const r of batch) if (r.state === 'running') this.#fail(r, err);
    } finally {
      this.#running = 0;
      this.#schedule();
    }
  }
}
