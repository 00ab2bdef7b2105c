// SummaryWriter: torch.utils.tensorboard's names over the TensorBoard writer, as a ported Python script calls them
// (writer = SummaryWriter(log_dir); writer.add_scalar("loss", v, step); writer.add_text(...); writer.close()).
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SummaryWriter as RootSummaryWriter, TensorBoardWriter as RootTensorBoardWriter } from '../../lib/index.js';
import { readTensorBoardEvents, SummaryWriter, TensorBoardWriter } from '../../lib/train/tensorboard.js';
import { InvalidArgumentError } from '../../lib/errors.js';
import { tempDir } from './helpers.js';

function eventFile(dir: string): string {
  const files = readdirSync(dir).filter((f) => f.startsWith('events.out.tfevents.'));
  expect(files).toHaveLength(1);
  return join(dir, files[0]!);
}

describe('SummaryWriter (torch.utils.tensorboard names)', () => {
  it('is exported from the package root and is a TensorBoardWriter', () => {
    expect(RootSummaryWriter).toBe(SummaryWriter);
    expect(RootTensorBoardWriter).toBe(TensorBoardWriter);
    const { dir, cleanup } = tempDir();
    try {
      const w = new RootSummaryWriter(dir);
      expect(w).toBeInstanceOf(TensorBoardWriter);
      expect(w.get_logdir()).toBe(dir);
      w.close();
    } finally {
      cleanup();
    }
  });

  it('add_scalar, add_text, flush and close write events that read back', () => {
    const { dir, cleanup } = tempDir();
    try {
      const writer = new SummaryWriter(dir);
      writer.add_scalar('train/loss', 2.5, 3, 1700000000.5);
      writer.add_text('predictions', 'a dog runs on the grass | ein Hund', 3);
      writer.add_scalar('eval/CIDEr', 0.75); // global_step omitted: 0, as torch
      writer.addScalars(4, { 'train/lr': 0.5 }); // the existing method still works
      writer.flush();
      writer.close();
      writer.add_scalar('after/close', 1, 9); // ignored
      const events = readTensorBoardEvents(eventFile(dir));
      expect(events[0]!.file_version).toBe('brain.Event:2');
      expect(events).toHaveLength(5);
      expect(events[1]).toMatchObject({ step: 3, wall_time: 1700000000.5, values: [{ tag: 'train/loss', simple_value: 2.5 }] });
      // torch's text summary: tag + '/text_summary', a [1] DT_STRING tensor with the UTF-8 text, the text plugin.
      expect(events[2]!.step).toBe(3);
      expect(events[2]!.values).toEqual([
        { tag: 'predictions/text_summary', simple_value: NaN, dtype: 7, shape: [1], string_val: ['a dog runs on the grass | ein Hund'], plugin_name: 'text' },
      ]);
      expect(events[3]).toMatchObject({ step: 0, values: [{ tag: 'eval/CIDEr', simple_value: 0.75 }] });
      expect(events[4]).toMatchObject({ step: 4, values: [{ tag: 'train/lr', simple_value: 0.5 }] });
    } finally {
      cleanup();
    }
  });

  it('add_scalars writes one run folder per tag, as torch does (tag: main_tag)', () => {
    const { dir, cleanup } = tempDir();
    try {
      const writer = new SummaryWriter(dir);
      writer.add_scalars('loss', { train: 1.5, 'eval/x': 2 }, 7);
      writer.add_scalars('loss', { train: 1.25 }, 8);
      writer.close();
      expect(readdirSync(dir).filter((n) => n.startsWith('loss_')).sort()).toEqual(['loss_eval_x', 'loss_train']);
      expect(readTensorBoardEvents(eventFile(dir))).toHaveLength(1); // the main file: its file_version event only
      const train = readTensorBoardEvents(eventFile(join(dir, 'loss_train')));
      expect(train.slice(1).map((e) => [e.step, e.values])).toEqual([[7, [{ tag: 'loss', simple_value: 1.5 }]], [8, [{ tag: 'loss', simple_value: 1.25 }]]]);
      const evalx = readTensorBoardEvents(eventFile(join(dir, 'loss_eval_x')));
      expect(evalx.slice(1).map((e) => [e.step, e.values])).toEqual([[7, [{ tag: 'loss', simple_value: 2 }]]]);
    } finally {
      cleanup();
    }
  });

  it('validates its arguments with InvalidArgumentError', () => {
    const { dir, cleanup } = tempDir();
    try {
      const writer = new SummaryWriter(dir);
      expect(() => writer.add_scalar('', 1)).toThrow(InvalidArgumentError);
      expect(() => writer.add_scalar('x', '1' as never)).toThrow(InvalidArgumentError);
      expect(() => writer.add_text('x', 3 as never)).toThrow(InvalidArgumentError);
      expect(() => writer.add_scalar('x', 1, 1.5)).toThrow(/global_step/);
      writer.close();
    } finally {
      cleanup();
    }
  });
});
