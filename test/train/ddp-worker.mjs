// One rank (or the single-process reference) of the data-parallel tests in distributed.test.ts: trains the tiny
// model of test/train/helpers.ts on synthetic shapes and writes what the test compares to <out>/rank<R>.json.
// Runs the compiled library (dist/), as a launched worker would. Usage: node ddp-worker.mjs '<json options>'
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  composeConfig, datasets, ImageProcessor, Trainer, VisionEncoderDecoder, distributed,
} from '../../dist/lib/index.js';
import { RawImageSupport, WordLevelTokenizer } from '../../dist/lib/train/index.js';

const o = JSON.parse(process.argv[2]);
const rank = Number(process.env.RANK ?? 0);

function shapesTokenizer() {
  const ds = datasets.synthetic({ size: 2000, seed: 12345 });
  const texts = [];
  for (let i = 0; i < 2000; i++) texts.push(...ds.item(i).captions);
  return WordLevelTokenizer.build(texts);
}

const imageSize = 16;
const hidden = 32;
const tokenizer = shapesTokenizer();
const image_processor = new RawImageSupport(ImageProcessor.fromConfig({ size: { height: imageSize, width: imageSize }, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5] }));
const eos = tokenizer.eos_token_id;
const config = composeConfig(
  { model_type: 'vit', image_size: imageSize, patch_size: 8, hidden_size: hidden, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: hidden * 2, hidden_dropout_prob: 0 },
  { model_type: 'gpt2', vocab_size: tokenizer.vocab_size, n_positions: 32, n_embd: hidden, n_layer: 1, n_head: 2, resid_pdrop: 0, embd_pdrop: 0, attn_pdrop: 0, bos_token_id: eos, eos_token_id: eos, pad_token_id: eos },
);
// Ranks other than 0 start from other weights: the broadcast at the start must make them rank 0's.
const model = await VisionEncoderDecoder.fromConfig(config, { seed: rank === 0 ? 0 : 100 + rank });
const train = datasets.synthetic({ size: o.trainSize ?? 64, seed: 1, imageSize, maxShapes: 1 });
const evalSet = datasets.synthetic({ size: o.evalSize ?? 7, seed: 2, imageSize, maxShapes: 1 });

const losses = [];
const callbacks = [{
  on_step_end: (_a, state, _c, extras) => {
    losses.push(extras.loss);
    // The kill test waits for this line before killing rank 1.
    if (o.announceSteps) process.stdout.write(`step ${state.global_step}\n`);
  },
}];
if (o.stepDelayMs) callbacks.push({ on_step_begin: () => new Promise((r) => setTimeout(r, o.stepDelayMs)) });

const trainer = new Trainer({
  model, tokenizer, image_processor, train_dataset: train, eval_dataset: evalSet, callbacks,
  log: o.quiet ? () => undefined : (l) => process.stdout.write(`${l}\n`),
  args: {
    output_dir: o.outputDir, max_steps: o.steps, per_device_train_batch_size: o.batch, gradient_accumulation_steps: o.accum ?? 1,
    learning_rate: o.lr ?? 2e-3, adam_epsilon: o.eps ?? 1e-8, lr_scheduler_type: 'constant', weight_decay: 0.01, save_strategy: 'no', logging_steps: 5,
    max_target_length: 12, ddp_timeout: o.timeoutS ?? 60, report_to: [],
    ...(o.resume ? { resume_from_checkpoint: true } : {}),
  },
});
const out = await trainer.fit();
const result = { rank, losses, interrupted: out.interrupted, global_step: out.global_step, checkpoint: out.checkpoint };
if (o.predict) {
  // The group fit() joined stays up: predict() splits the set over the ranks too.
  if (distributed.isLaunched() && !distributed.group()) throw new Error('fit() left no process group');
  const p = await trainer.predict(evalSet);
  result.predictions = p.predictions;
  result.ids = p.ids;
}
const state = await model.stateDict();
result.weights = Object.fromEntries(Object.entries(state).map(([k, t]) => [k, Array.from(t.data)]));
writeFileSync(join(o.resultDir, `rank${rank}.json`), JSON.stringify(result));
