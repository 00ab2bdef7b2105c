// The seed tutorial's Python flow ported line by line, end to end, on generated images: standalone ViT and
// GPT-2 folders, composed with fromEncoderDecoderPretrained; config ids set by assignment; the tokenizer's pad
// token set to eos; a Karpathy split file read with a filter; Seq2SeqTrainer with Seq2SeqTrainingArguments and a
// compute_metrics, keeping the best checkpoint; a plain training loop logging to a SummaryWriter; the best model
// saved with its tokenizer and processor and captioned by the pipeline, from a loopback URL and a path, with one
// corrupt image reported on its own.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, expect, it } from 'vitest';
import { datasets } from '../../lib/data/index.js';
import { FormatError } from '../../lib/errors.js';
import { rouge } from '../../lib/metrics/index.js';
import { GPT2LMHeadModel, ViTModel } from '../../lib/models/standalone.js';
import { VisionEncoderDecoder } from '../../lib/models/vision-encoder-decoder.js';
import { AdamW } from '../../lib/optim/adamw.js';
import { pipeline } from '../../lib/pipeline.js';
import { ImageProcessor, Tokenizer } from '../../lib/processing/index.js';
import { Seq2SeqTrainer, Seq2SeqTrainingArguments, SummaryWriter, readTensorBoardEvents } from '../../lib/train/index.js';
import { describeWithFixtures } from '../helpers/fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'tc-tutorial-'));
let server: Server | undefined;
afterAll(() => {
  server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** A Karpathy-style split file over PNGs of the synthetic shapes, plus one corrupt "image" in the train split. */
async function writeKarpathy(dir: string): Promise<string> {
  const shapes = datasets.synthetic({ size: 28, seed: 11, imageSize: 32, maxShapes: 1 });
  mkdirSync(join(dir, 'images', 'train2014'), { recursive: true });
  const images: Record<string, unknown>[] = [];
  for (let i = 0; i < 28; i++) {
    const item = shapes.item(i);
    const filename = `img${i}.png`;
    await sharp(Buffer.from(item.image.data), { raw: { width: item.image.width, height: item.image.height, channels: item.image.channels } }).png().toFile(join(dir, 'images', 'train2014', filename));
    const split = i < 20 ? 'train' : i < 24 ? 'val' : 'test';
    images.push({ filepath: 'train2014', filename, split, cocoid: i, sentences: item.captions.map((raw) => ({ raw })) });
  }
  writeFileSync(join(dir, 'images', 'train2014', 'broken.png'), Buffer.from('not a png at all'));
  images.push({ filepath: 'train2014', filename: 'broken.png', split: 'train', cocoid: 99, sentences: [{ raw: 'a broken image' }] });
  const json = join(dir, 'dataset_coco.json');
  writeFileSync(json, JSON.stringify({ dataset: 'coco', images }));
  return json;
}

describeWithFixtures('the tutorial flow, ported', (fixtures) => {
  it('runs end to end', async () => {
    // 1. Pretrained parts: here fresh ViT and GPT-2 saved as their own folders (the tutorial downloads them).
    const gpt2Tokenizer = join(fixtures, 'models', 'vit-gpt2-tiny'); // a GPT-2 BPE tokenizer.json
    const vit = await ViTModel.fromConfig({ model_type: 'vit', image_size: 32, patch_size: 8, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 64 }, { seed: 1 });
    const gpt2 = await GPT2LMHeadModel.fromConfig({ model_type: 'gpt2', vocab_size: 50257, n_positions: 64, n_embd: 32, n_layer: 2, n_head: 4, resid_pdrop: 0, embd_pdrop: 0, attn_pdrop: 0 }, { seed: 2 });
    const vitDir = join(tmp, 'vit');
    const gpt2Dir = join(tmp, 'gpt2');
    await vit.save(vitDir);
    await gpt2.save(gpt2Dir);

    // 2. model = VisionEncoderDecoderModel.from_encoder_decoder_pretrained(vit, gpt2); tokenizer.pad_token = eos; ids on the config
    const model = await VisionEncoderDecoder.fromEncoderDecoderPretrained(vitDir, gpt2Dir, { seed: 3 });
    const tokenizer = await Tokenizer.fromPretrained(gpt2Tokenizer);
    tokenizer.pad_token = tokenizer.eos_token;
    model.config.decoder_start_token_id = tokenizer.bos_token_id;
    model.config.pad_token_id = tokenizer.pad_token_id;
    model.config.eos_token_id = tokenizer.eos_token_id;
    const image_processor = ImageProcessor.fromConfig({ size: { height: 32, width: 32 }, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5] });

    // 3. Karpathy splits, filtered (ds.filter(lambda x: len(x["sentences"]) > 0)).
    const json = await writeKarpathy(tmp);
    const images = join(tmp, 'images');
    const train = datasets.karpathy({ json, images, split: 'train' }).filter((it) => it.captions.length > 0);
    const val = datasets.karpathy({ json, images, split: 'validation' }).filter((it) => it.captions.length > 0);
    expect(await train.size()).toBe(21);
    expect(await val.size()).toBe(4);

    // 4. Seq2SeqTrainer with compute_metrics, keeping the best checkpoint by ROUGE.
    const output_dir = join(tmp, 'out');
    const args = new Seq2SeqTrainingArguments({
      output_dir, per_device_train_batch_size: 7, per_device_eval_batch_size: 4, num_train_epochs: 2, learning_rate: 3e-3,
      eval_strategy: 'epoch', save_strategy: 'epoch', predict_with_generate: true, generation_max_length: 10,
      load_best_model_at_end: true, metric_for_best_model: 'rougeL', save_total_limit: 2, disable_tqdm: true,
    });
    const compute_metrics = (p: { predictions: string[]; references: string[][] }) => ({ rougeL: rouge(p.predictions, p.references).rougeL });
    const logs: string[] = [];
    const trainer = new Seq2SeqTrainer({ model, args, train_dataset: train, eval_dataset: val, compute_metrics, tokenizer, image_processor, log: (l: string) => logs.push(l) });
    const out = await trainer.fit();
    expect(out.global_step).toBe(6); // 20 good images / 7 per batch = 3 steps per epoch; the corrupt one skipped
    expect(logs.join("\n")).toMatch(/20 of 21 items used, 1 skipped \(corrupt_image=1\)/);
    const best = trainer.state.best_model_checkpoint;
    expect(best && existsSync(join(best, 'model.safetensors'))).toBe(true);
    expect(trainer.state.log_history.some((h) => typeof h.eval_rougeL === 'number')).toBe(true);

    // 5. The plain loop: for batch in loader: loss = model(**batch).loss; loss.backward(); opt.step(); writer.add_scalar
    const writer = new SummaryWriter(join(tmp, 'runs'));
    const opt = new AdamW(model, { lr: 1e-3 });
    model.train();
    let step = 0;
    for await (const batch of train.batches({ batch_size: 7, imageProcessor: image_processor, tokenizer })) {
      const o = await model.forward({ pixel_values: batch.pixel_values, labels: batch.labels }, { backward: true });
      await opt.step();
      await model.zeroGrad();
      writer.add_scalar('train/loss', o.loss!, step++);
    }
    writer.add_text('note', 'plain loop done', step);
    writer.close();
    model.eval();
    const eventFile = readdirSync(join(tmp, 'runs')).find((f) => f.startsWith('events.out.tfevents'))!;
    const scalars = readTensorBoardEvents(join(tmp, 'runs', eventFile)).flatMap((e) => e.values).filter((v) => v.tag === 'train/loss');
    expect(scalars.length).toBe(step);
    expect(step).toBe(3);

    // 6. The best model, saved with its tokenizer and processor, through the pipeline: a URL, a path, a corrupt file.
    const bestModel = await VisionEncoderDecoder.fromPretrained(best!);
    const final = join(tmp, 'final');
    await bestModel.save(final, { tokenizer, image_processor });
    const png = join(images, 'train2014', 'img21.png');
    server = createServer((req, res) => {
      if (req.url === '/img21.png') {
        res.writeHead(200, { 'content-type': 'image/png' });
        res.end(readFileSync(png));
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    const { port } = server.address() as { port: number };
    const captioner = await pipeline('image-to-text', final);
    const results = await captioner([`http://127.0.0.1:${port}/img21.png`, png, join(images, 'train2014', 'broken.png')], { max_length: 10, errors: 'return' });
    const [fromUrl, fromPath, broken] = results as [{ generated_text: string }, { generated_text: string }, { error: unknown }];
    expect(typeof fromUrl.generated_text).toBe('string');
    expect(fromUrl.generated_text).toBe(fromPath.generated_text);
    expect(broken.error).toBeInstanceOf(FormatError);
  });
});
