// Dynamic batching: batched results equal unbatched generate token for token; grouping, back-pressure,
// isolation of bad images, abort and close.
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeWithFixtures } from '../helpers/fixtures.js';
import { Captioner, trimSequences, type CaptionOutput } from '../../lib/serve/captioner.js';
import { pipeline, type ImageToTextPipeline } from '../../lib/pipeline.js';
import { ClosedError, FormatError, InvalidArgumentError, QueueFullError } from '../../lib/errors.js';
import type { GenerateOptions } from '../../lib/models/generation.js';
import type { ImageInput } from '../../lib/types.js';

describe('trimSequences', () => {
  it('cuts batch padding after the longest own sequence', () => {
    expect(trimSequences([[9, 1, 2, 9, 9, 9]], 9)).toEqual([[9, 1, 2, 9]]);
    expect(trimSequences([[9, 1, 9, 9, 9], [9, 1, 2, 3, 9]], 9)).toEqual([[9, 1, 9, 9, 9], [9, 1, 2, 3, 9]]);
    expect(trimSequences([[9, 1, 9, 0, 0], [9, 1, 2, 9, 0]], 9)).toEqual([[9, 1, 9, 0], [9, 1, 2, 9]]);
    expect(trimSequences([[9, 1, 2]], 9)).toEqual([[9, 1, 2]]); // cut off at max_length
    expect(trimSequences([[5, 1, 2]], null)).toEqual([[5, 1, 2]]);
  });
});

describeWithFixtures('Captioner (dynamic batching)', (fixtures) => {
  const dir = join(fixtures, 'models', 'vit-gpt2-tiny');
  const img = (f: string): string => join(fixtures, 'images', f);
  const images = ['china.jpg', 'flower.jpg', 'gray.jpg', 'rgba.png', 'cmyk.jpg'].map(img);
  let pipe: ImageToTextPipeline;

  beforeAll(async () => {
    pipe = await pipeline('image-to-text', dir);
  });

  /** What generate on the image alone gives, decoded as the pipeline decodes. */
  async function unbatched(image: ImageInput, options: Partial<GenerateOptions> = {}): Promise<{ sequences: number[][]; sequences_scores?: number[]; text: string }> {
    const out = await pipe.model.generate(await pipe.imageProcessor.preprocess(image), options);
    return { ...out, text: pipe.tokenizer.decode(out.sequences[0]!, { skip_special_tokens: true }).trim() };
  }

  async function expectUnbatched(got: CaptionOutput, image: ImageInput, options: Partial<GenerateOptions> = {}): Promise<void> {
    const ref = await unbatched(image, options);
    expect(got.sequences).toEqual(ref.sequences);
    expect(got.generated_text).toBe(ref.text);
    expect(got.generated_texts).toHaveLength(ref.sequences.length);
    if (ref.sequences_scores) {
      expect(got.sequences_scores).toHaveLength(ref.sequences_scores.length);
      got.sequences_scores!.forEach((s, i) => expect(s).toBeCloseTo(ref.sequences_scores![i]!, 5));
    } else {
      expect(got.sequences_scores).toBeUndefined();
    }
  }

  it('greedy: several images in one batch equal generate on each alone, and the pipeline', async () => {
    const c = Captioner.fromPipeline(pipe, { maxBatchSize: 8, maxWaitMs: 200 });
    const outs = await Promise.all(images.map((i) => c.caption(i)));
    expect(c.stats()).toMatchObject({ batches: 1, batchSizes: { 5: 1 }, completed: 5, queueDepth: 0, running: 0 });
    for (const [j, out] of outs.entries()) {
      await expectUnbatched(out, images[j]!);
      expect(out.generated_text).toBe((await pipe(images[j]!))[0]!.generated_text);
    }
    await c.close();
  });

  it('beam search, with captions of different lengths and num_return_sequences, equals generate on each alone', async () => {
    const c = Captioner.fromPipeline(pipe, { maxBatchSize: 8, maxWaitMs: 200 });
    for (const options of [{ num_beams: 2, max_length: 30 }, { num_beams: 3, num_return_sequences: 2 }, { num_beams: 3, num_return_sequences: 3, max_length: 30, length_penalty: 0.5 }]) {
      const before = c.stats().batches;
      const outs = await Promise.all(images.map((i) => c.caption(i, options)));
      expect(c.stats().batches).toBe(before + 1);
      for (const [j, out] of outs.entries()) await expectUnbatched(out, images[j]!, options);
    }
    // the case that needs trimming: captions of different lengths in one batch
    const lengths = (await Promise.all(images.map((i) => c.caption(i, { num_beams: 2, max_length: 30 })))).map((o) => o.sequences[0]!.length);
    expect(new Set(lengths).size).toBeGreaterThan(1);
    await c.close();
  });

  it('groups requests by effective options: one batch per option set, equivalent options share one', async () => {
    const c = Captioner.fromPipeline(pipe, { maxBatchSize: 16, maxWaitMs: 200 });
    const plan: [string, Partial<GenerateOptions>][] = [
      [images[0]!, {}], [images[1]!, { num_beams: 2 }], [images[2]!, {}], [images[3]!, { num_beams: 2 }],
      [images[4]!, { max_new_tokens: 6 }], [images[0]!, { max_length: 7 }], [images[1]!, { num_beams: 1, max_length: 20 }],
    ];
    const outs = await Promise.all(plan.map(([i, o]) => c.caption(i, o)));
    // {} and {num_beams: 1, max_length: 20} are the defaults; max_new_tokens 6 is max_length 7
    expect(c.stats()).toMatchObject({ batches: 3, batchSizes: { 2: 2, 3: 1 } });
    for (const [j, out] of outs.entries()) await expectUnbatched(out, plan[j]![0], plan[j]![1]);
    await c.close();
  });

  it('splits a group into batches of maxBatchSize, in arrival order', async () => {
    const c = Captioner.fromPipeline(pipe, { maxBatchSize: 2, maxWaitMs: 200 });
    const outs = await Promise.all(images.map((i) => c.caption(i)));
    expect(c.stats()).toMatchObject({ batches: 3, batchSizes: { 1: 1, 2: 2 } });
    for (const [j, out] of outs.entries()) await expectUnbatched(out, images[j]!);
    await c.close();
  });

  it('takes Buffers and raw pixels as well as paths', async () => {
    const c = Captioner.fromPipeline(pipe, { maxWaitMs: 50 });
    const raw = { data: new Uint8Array(40 * 30 * 3).map((_, i) => (i * 37) % 256), width: 40, height: 30, channels: 3 as const };
    const [a, b, r] = await Promise.all([c.caption(images[0]!), c.caption(readFileSync(images[0]!)), c.caption(raw)]);
    expect(b).toEqual(a);
    await expectUnbatched(r!, raw);
    expect(c.stats().batchSizes).toEqual({ 3: 1 });
    await c.close();
  });

  it('a corrupt image fails only its own request, with FormatError', async () => {
    const c = Captioner.fromPipeline(pipe, { maxBatchSize: 8, maxWaitMs: 200 });
    const truncated = readFileSync(images[1]!).subarray(0, 300);
    const inputs: ImageInput[] = [images[0]!, truncated, Buffer.from('not an image at all'), images[2]!, join(fixtures, 'images', 'missing.jpg')];
    const settled = await Promise.allSettled(inputs.map((i) => c.caption(i)));
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled', 'rejected']);
    expect((settled[1] as PromiseRejectedResult).reason).toBeInstanceOf(FormatError);
    expect((settled[2] as PromiseRejectedResult).reason).toBeInstanceOf(FormatError);
    expect((settled[4] as PromiseRejectedResult).reason).toBeInstanceOf(InvalidArgumentError); // unreadable path
    await expectUnbatched((settled[0] as PromiseFulfilledResult<CaptionOutput>).value, images[0]!);
    await expectUnbatched((settled[3] as PromiseFulfilledResult<CaptionOutput>).value, images[2]!);
    expect(c.stats()).toMatchObject({ batches: 1, batchSizes: { 2: 1 }, completed: 2, failed: 3 });
    await c.close();
  });

  it('rejects bad options at once with the generate message, without queueing', async () => {
    const c = Captioner.fromPipeline(pipe);
    await expect(c.caption(images[0]!, { num_beam: 2 } as Partial<GenerateOptions>)).rejects.toThrow(/Unknown generation option 'num_beam'; did you mean 'num_beams'\?/);
    await expect(c.caption(images[0]!, { num_beams: 0 })).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(c.stats()).toMatchObject({ requests: 0, rejected: 2 });
    expect(() => Captioner.fromPipeline(pipe, { maxBatchSize: 0 })).toThrow(/maxBatchSize/);
    await c.close();
  });

  it('rejects with QueueFullError when maxQueue requests wait; close() runs them at once', async () => {
    const c = Captioner.fromPipeline(pipe, { maxQueue: 2, maxWaitMs: 60_000 });
    const a = c.caption(images[0]!);
    const b = c.caption(images[1]!);
    const full = c.caption(images[2]!);
    await expect(full).rejects.toBeInstanceOf(QueueFullError);
    await expect(full).rejects.toThrow(/queue is full \(2 requests waiting\)/);
    expect(c.stats().queueDepth).toBe(2);
    const t0 = performance.now();
    await c.close();
    expect(performance.now() - t0).toBeLessThan(20_000); // did not wait for maxWaitMs
    await expectUnbatched(await a, images[0]!);
    await expectUnbatched(await b, images[1]!);
    // closing runs what is ready at once (one batch, or two when one image was still being decoded)
    expect(c.stats()).toMatchObject({ completed: 2, rejected: 1, queueDepth: 0 });
  });

  it('close() drains: pending requests finish, new ones are rejected with ClosedError', async () => {
    const c = Captioner.fromPipeline(pipe, { maxBatchSize: 2, maxWaitMs: 60_000 });
    const done: number[] = [];
    const pending = images.map((i, j) => c.caption(i, { num_beams: 2 }).then((out) => (done.push(j), out)));
    const closed = c.close().then(() => done.length);
    await expect(c.caption(images[0]!)).rejects.toBeInstanceOf(ClosedError);
    expect(await closed).toBe(images.length); // every accepted request had settled before close() resolved
    const outs = await Promise.all(pending);
    for (const [j, out] of outs.entries()) await expectUnbatched(out, images[j]!, { num_beams: 2 });
    expect(c.stats()).toMatchObject({ completed: 5, rejected: 1 });
    expect(c.stats().batches).toBeGreaterThanOrEqual(3); // batches of at most 2; closing does not wait for them to fill
    expect(c.closed).toBe(true);
    await c.close(); // idempotent
  });

  it('an aborted request leaves the queue; the others of its group still run', async () => {
    const c = Captioner.fromPipeline(pipe, { maxWaitMs: 300 });
    const ac = new AbortController();
    const a = c.caption(images[0]!);
    const b = c.caption(images[1]!, { signal: ac.signal });
    const reason = new Error('client went away');
    setTimeout(() => ac.abort(reason), 50);
    await expect(b).rejects.toBe(reason);
    await expectUnbatched(await a, images[0]!);
    expect(c.stats()).toMatchObject({ batchSizes: { 1: 1 }, failed: 1, completed: 1 });
    const pre = new AbortController();
    pre.abort(reason);
    await expect(c.caption(images[0]!, { signal: pre.signal })).rejects.toBe(reason);
    await c.close();
  });

  it('sampling requests run alone, so a seed gives the same caption as an unbatched call', async () => {
    const c = Captioner.fromPipeline(pipe, { maxWaitMs: 100 });
    const opts = { do_sample: true, seed: 3, top_k: 5 };
    const outs = await Promise.all([c.caption(images[0]!, opts), c.caption(images[1]!, opts)]);
    expect(c.stats().batchSizes).toEqual({ 1: 2 });
    await expectUnbatched(outs[0]!, images[0]!, opts);
    await expectUnbatched(outs[1]!, images[1]!, opts);
    await c.close();
  });

  it('fromPretrained loads a folder; name is what it was given', async () => {
    const c = await Captioner.fromPretrained(dir, { maxBatchSize: 4 });
    expect(c.name).toBe(dir);
    expect(c.batching).toEqual({ maxBatchSize: 4, maxWaitMs: 10, maxQueue: 256 });
    await expectUnbatched(await c.caption(images[0]!), images[0]!);
    await c.close();
  });
});
