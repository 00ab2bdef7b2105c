import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { runDemo } from '../../lib/train/demo.js';
import { lineSink, tempDir } from './helpers.js';

it('the demo shortens its plan to fit the time budget when the default steps would not fit', async () => {
  const { dir, cleanup } = tempDir('tc-demo-');
  const sink = lineSink();
  try {
    const r = await runDemo({ output: dir, timeBudget: 1.5, trainSize: 2000, evalSize: 16, log: sink.log });
    expect(r.global_step).toBeLessThan(2000);
    expect(sink.lines.some((l) => /^demo: [\d.]+ steps\/s on this machine; training for \d+ steps to stay within 1\.5 s$/.test(l))).toBe(true);
    expect(r.metrics).toHaveProperty('eval_Bleu_4');
    expect(r.samples).toHaveLength(4);
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(cfg).toMatchObject({ model_type: 'vision-encoder-decoder', decoder_start_token_id: 0, pad_token_id: 0, eos_token_id: 0 });
    expect(JSON.parse(readFileSync(join(dir, 'generation_config.json'), 'utf8'))).toMatchObject({ max_length: 32, num_beams: 1 });
    expect(existsSync(join(dir, 'samples', 'shapes-9000-0.png'))).toBe(true);
  } finally {
    cleanup();
  }
}, 60_000);
