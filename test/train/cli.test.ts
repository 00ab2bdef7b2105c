import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { registerDemo } from '../../lib/cli/demo.js';
import { registerEval } from '../../lib/cli/eval.js';
import { registerTrain } from '../../lib/cli/train.js';
import { EXIT_USAGE, reportError } from '../../lib/cli/common.js';
import { tempDir } from './helpers.js';

const tmp = tempDir('tc-train-cli-');
afterAll(() => tmp.cleanup());

/** Runs a command in-process as main.ts would; resolves to stdout, stderr and the exit code. */
async function runCli(args: string[]): Promise<{ out: string; err: string; code: number }> {
  let out = '';
  let err = '';
  const program = new Command('torch-caption').exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  registerTrain(program);
  registerEval(program);
  registerDemo(program);
  for (const cmd of program.commands) cmd.exitOverride();
  const ow = process.stdout.write.bind(process.stdout);
  const ew = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string) => ((out += s), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => ((err += s), true)) as typeof process.stderr.write;
  try {
    await program.parseAsync(['node', 'torch-caption', ...args]);
    return { out, err, code: 0 };
  } catch (error) {
    if (error instanceof CommanderError) return { out, err, code: EXIT_USAGE };
    const code = reportError(error);
    return { out, err, code };
  } finally {
    process.stdout.write = ow;
    process.stderr.write = ew;
  }
}

const lastJson = (out: string): Record<string, unknown> => JSON.parse(out.trim().split('\n').pop()!);

describe('torch-caption train / eval', () => {
  const cfgPath = join(tmp.dir, 'train.json');
  const outDir = join(tmp.dir, 'model');
  writeFileSync(cfgPath, JSON.stringify({
    model: { config: 'tiny', imageSize: 16 },
    dataset: { type: 'synthetic', size: 16, seed: 1, imageSize: 16, maxShapes: 1 },
    eval_dataset: { type: 'synthetic', size: 4, seed: 2, imageSize: 16, maxShapes: 1 },
    args: { output_dir: 'model', max_steps: 3, per_device_train_batch_size: 4, learning_rate: 1e-3, save_strategy: 'no', eval_strategy: 'steps', eval_steps: 3, predict_with_generate: true, generation_max_length: 8 },
  }));

  it('trains from a config file and saves the model (--json: metrics as the last stdout line)', async () => {
    const r = await runCli(['train', '--config', cfgPath, '--json']);
    expect(r.err).not.toMatch(/torch-caption: /);
    expect(r.code).toBe(0);
    const j = lastJson(r.out);
    expect(j).toMatchObject({ global_step: 3, interrupted: false, output_dir: outDir, train_runtime: expect.any(Number), train_samples_per_second: expect.any(Number), eval_loss: expect.any(Number), eval_Bleu_4: expect.any(Number) });
    for (const f of ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'preprocessor_config.json', 'trainer_state.json', 'report.html']) {
      expect(existsSync(join(outDir, f)), f).toBe(true);
    }
    expect(r.err).toMatch(/built a word-level tokenizer/);
  });

  it('evaluates a saved model, writes COCO results and prints metrics', async () => {
    const results = join(tmp.dir, 'results.json');
    const r = await runCli(['eval', '--model', outDir, '--data', '{"type":"synthetic","size":5,"seed":3,"imageSize":16,"maxShapes":1}', '--max-length', '8', '--output', results, '--json']);
    expect(r.code).toBe(0);
    const j = lastJson(r.out);
    expect(j).toMatchObject({ num_images: 5, eval_Bleu_4: expect.any(Number), eval_CIDEr: expect.any(Number), eval_ROUGE_L: expect.any(Number), eval_loss: expect.any(Number) });
    const res = JSON.parse(readFileSync(results, 'utf8'));
    expect(res).toHaveLength(5);
    expect(res[0]).toEqual({ image_id: 'shapes-3-0', caption: expect.any(String) });
    const plain = await runCli(['eval', '--model', outDir, '--data', '{"type":"synthetic","size":3,"seed":4}', '--max-length', '8']);
    expect(plain.code).toBe(0);
    expect(plain.out).toMatch(/^3 images\n {2}loss +\d\.\d{4}\n {2}Bleu_1 +\d\.\d{4}\n/);
    expect(plain.out).toMatch(/CIDEr/);
    const missing = await runCli(['eval', '--model', outDir, '--data', join(tmp.dir, 'nope.jsonl')]);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/^torch-caption: .*does not exist/m);
  });

  it('bad usage exits with 2 and one readable line (with the right spelling of a key)', async () => {
    const bad = join(tmp.dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ model: { config: 'tiny' }, datset: { type: 'synthetic' }, args: { output_dir: 'x' } }));
    const r1 = await runCli(['train', '--config', bad]);
    expect(r1.code).toBe(2);
    expect(r1.err).toMatch(/^torch-caption: Unknown key 'datset' .*did you mean 'dataset'\?/m);
    writeFileSync(bad, JSON.stringify({ model: { config: 'tiny' }, dataset: { type: 'synthetic', size: 4 }, args: { output_dir: join(tmp.dir, 'x'), learning_rte: 1 } }));
    const r2 = await runCli(['train', '--config', bad]);
    expect(r2.code).toBe(2);
    expect(r2.err).toMatch(/Unknown training argument 'learning_rte'; did you mean 'learning_rate'\?/);
    expect(r2.err.trim().split('\n').filter((l) => !l.startsWith('(node:'))).toHaveLength(1);
    const r3 = await runCli(['train', '--config', join(tmp.dir, 'missing.json')]);
    expect(r3.code).toBe(2);
  });
});

describe('torch-caption demo', () => {
  it('trains, evaluates and saves; --json ends with one JSON object of HF-named metrics', async () => {
    const dir = join(tmp.dir, 'demo');
    const r = await runCli(['demo', '--json', '--steps', '4', '--output', dir]);
    expect(r.code).toBe(0);
    const j = lastJson(r.out);
    for (const k of ['eval_Bleu_4', 'eval_CIDEr', 'eval_loss', 'train_runtime', 'train_samples_per_second']) expect(typeof j[k], k).toBe('number');
    expect(j.global_step).toBe(4);
    expect(r.err).toMatch(/Caption with: npx torch-caption caption --model /);
    expect(r.out.trim().split('\n')).toHaveLength(1);
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'preprocessor_config.json', 'report.html']) expect(existsSync(join(dir, f)), f).toBe(true);
    expect((j.samples as { image: string }[]).every((s) => existsSync(s.image))).toBe(true);
  }, 120_000);
});
