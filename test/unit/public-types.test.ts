// The package's declarations compile for a consumer with skipLibCheck: false and strict: they must not import the
// `tokenizers` package's declarations (which do not compile) nor sharp's. The declarations are emitted afresh into
// a temp folder (dist/ may be stale) and a small consumer, written as a Python port would be, is type-checked
// against them.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const out = mkdtempSync(join(tmpdir(), 'tc-dts-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

function run(args: string[], cwd: string): string {
  try {
    return execFileSync(process.execPath, [tsc, ...args], { cwd, encoding: 'utf8', stdio: 'pipe' });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`tsc ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

function dtsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? dtsFiles(p) : p.endsWith('.d.ts') ? [p] : [];
  });
}

const CONSUMER = `
import {
  Tokenizer, Trainer, Seq2SeqTrainer, Seq2SeqTrainingArguments, SummaryWriter, TensorBoardWriter, default_data_collator,
  type BatchEncoding, type TensorBatchEncoding, type DataCollator, type ProcessingClass,
} from '../lib/index.js';

export async function port(dir: string): Promise<number> {
  const tokenizer = await Tokenizer.fromPretrained(dir);
  tokenizer.pad_token = tokenizer.eos_token;
  tokenizer.pad_token_id = tokenizer.eos_token_id;
  const enc: BatchEncoding = tokenizer.call(['a dog'], { padding: 'max_length', max_length: 16, truncation: true });
  const pt: TensorBatchEncoding = tokenizer.call(['a dog'], { padding: 'longest', return_tensors: 'pt' });
  const one: number[] = tokenizer.call('a dog').input_ids;
  const args = new Seq2SeqTrainingArguments({ output_dir: 'out', predict_with_generate: true, pad_to_max_length: true });
  const pc: ProcessingClass = tokenizer;
  const collate: DataCollator = (features) => ({ pixel_values: features[0]!.pixel_values, labels: default_data_collator(features).labels });
  const ctor: typeof Trainer = Seq2SeqTrainer;
  const w = new SummaryWriter(dir);
  w.add_scalar('loss', 1, 0);
  w.add_text('caption', 'a dog', 0);
  const tb: TensorBoardWriter = w;
  tb.close();
  void pc; void collate; void ctor; void args; void pt;
  return enc.input_ids.length + one.length;
}
`;

describe('public declarations', () => {
  it('import neither tokenizers nor sharp, and compile with skipLibCheck false and strict', () => {
    run(['-p', join(root, 'tsconfig.json'), '--emitDeclarationOnly', '--declaration', '--declarationMap', 'false', '--sourceMap', 'false', '--outDir', out], root);
    const leaks = dtsFiles(join(out, 'lib')).filter((f) => /from ['"](tokenizers|sharp)['"]|import\(["'](tokenizers|sharp)["']\)/.test(readFileSync(f, 'utf8')));
    expect(leaks.map((f) => f.slice(out.length + 1))).toEqual([]);
    writeFileSync(join(out, 'package.json'), JSON.stringify({ type: 'module' }));
    mkdirSync(join(out, 'consumer'), { recursive: true });
    writeFileSync(join(out, 'consumer', 'consumer.ts'), CONSUMER);
    run([
      '--noEmit', '--skipLibCheck', 'false', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022',
      '--types', 'node', '--typeRoots', join(root, 'node_modules', '@types'), join(out, 'consumer', 'consumer.ts'),
    ], out);
  });
});
