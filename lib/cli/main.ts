/** torch-caption command line: caption | train | eval | score | serve | demo | doctor. */
import { Command, CommanderError } from 'commander';
import { registerCaption } from './caption.js';
import { registerDoctor } from './doctor.js';
import { registerScore } from './score.js';
import { registerTrain } from './train.js';
import { registerEval } from './eval.js';
import { registerDemo } from './demo.js';
import { registerServe } from './serve.js';
import { EXIT_OK, EXIT_USAGE, reportError } from './common.js';

export function buildProgram(): Command {
  const program = new Command('torch-caption')
    .description('Image captioning on libtorch: Vision-Encoder-Decoder models compatible with Hugging Face')
    .showHelpAfterError()
    .exitOverride();
  registerCaption(program);
  registerTrain(program);
  registerEval(program);
  registerScore(program);
  registerServe(program);
  registerDemo(program);
  registerDoctor(program);
  for (const cmd of program.commands) cmd.exitOverride();
  return program;
}

/** Runs the CLI; resolves to the exit code (0 ok, 1 failed job, 2 bad usage). */
export async function run(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT_OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT_OK;
      return EXIT_USAGE;
    }
    return reportError(err);
  }
}
