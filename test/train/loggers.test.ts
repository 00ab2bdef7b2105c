import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { crc32c, encodeRecord, maskedCrc32c, readTensorBoardEvents, TensorBoardWriter, tensorboardTag } from '../../lib/train/tensorboard.js';
import { JsonlLogger, ProgressReporter, formatDuration } from '../../lib/train/logging.js';
import { renderReport, lineChart } from '../../lib/train/report.js';
import { tempDir } from './helpers.js';

describe('TensorBoard event files', () => {
  it('CRC-32C matches the standard check values', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    // TFRecord masking: ((crc >>> 15) | (crc << 17)) + 0xa282ead8
    const c = crc32c(Buffer.from('abc'));
    expect(maskedCrc32c(Buffer.from('abc'))).toBe(((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0);
  });

  it('frames records as length, masked CRC of the length, data, masked CRC of the data', () => {
    const data = Uint8Array.from([1, 2, 3]);
    const r = encodeRecord(data);
    expect(r.length).toBe(8 + 4 + 3 + 4);
    expect(r.readBigUInt64LE(0)).toBe(3n);
    expect(r.readUInt32LE(8)).toBe(maskedCrc32c(r.subarray(0, 8)));
    expect([...r.subarray(12, 15)]).toEqual([1, 2, 3]);
    expect(r.readUInt32LE(15)).toBe(maskedCrc32c(data));
  });

  it('writes scalars that read back with tags, steps and values', () => {
    const { dir, cleanup } = tempDir();
    try {
      const w = new TensorBoardWriter(dir);
      w.addScalars(10, { 'train/loss': 2.5, 'train/learning_rate': 1e-4 }, 1700000000.25);
      w.addScalars(20, { 'eval/loss': 1.75, skipped: NaN });
      w.close();
      const files = readdirSync(dir);
      expect(files).toHaveLength(1);
      expect(files[0]).toMatch(/^events\.out\.tfevents\.\d+\./);
      const events = readTensorBoardEvents(join(dir, files[0]!));
      expect(events[0]!.file_version).toBe('brain.Event:2');
      expect(events[1]).toMatchObject({ step: 10, wall_time: 1700000000.25 });
      expect(events[1]!.values.map((v) => v.tag)).toEqual(['train/loss', 'train/learning_rate']);
      expect(events[1]!.values[0]!.simple_value).toBe(2.5);
      expect(events[1]!.values[1]!.simple_value).toBeCloseTo(1e-4, 10); // float32
      expect(events[2]!.values).toEqual([{ tag: 'eval/loss', simple_value: 1.75 }]);
      // A flipped byte is caught by the CRC.
      const buf = readFileSync(join(dir, files[0]!));
      buf[buf.length - 6] ^= 0xff;
      const bad = join(dir, 'bad');
      writeFileSync(bad, buf);
      expect(() => readTensorBoardEvents(bad)).toThrow(/CRC/);
    } finally {
      cleanup();
    }
  });

  it('rewrites HF log keys into TensorBoard tags', () => {
    expect(tensorboardTag('loss')).toBe('train/loss');
    expect(tensorboardTag('eval_CIDEr')).toBe('eval/CIDEr');
    expect(tensorboardTag('test_Bleu_4')).toBe('test/Bleu_4');
  });
});

describe('JSONL log and progress', () => {
  it('appends one JSON object per line', () => {
    const { dir, cleanup } = tempDir();
    try {
      const log = new JsonlLogger(join(dir, 'sub', 'log.jsonl'));
      log.write({ step: 1, loss: 2 });
      log.write({ step: 2, loss: 1 });
      const lines = readFileSync(join(dir, 'sub', 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(lines.map((l) => l.loss)).toEqual([2, 1]);
      expect(typeof lines[0].time).toBe('string');
    } finally {
      cleanup();
    }
  });

  it('prints plain progress lines when not on a TTY', () => {
    const out: string[] = [];
    const p = new ProgressReporter({ write: (t) => void out.push(t), intervalSeconds: 0 });
    p.start(4, 0);
    p.update(1, 8, { epoch: 0.25, loss: 2.5, learning_rate: 1e-3 });
    p.line('hello');
    p.update(4, 8, { epoch: 1, loss: 1.25, learning_rate: 0 });
    p.stop();
    expect(out[0]).toMatch(/^step 1\/4 \(25%\) \| epoch 0\.25 \| loss 2\.5000 \| lr 1\.00e-3 \| [\d.]+ samples\/s \| ETA /);
    expect(out).toContain('hello\n');
    expect(out[out.length - 1]).toMatch(/^step 4\/4 \(100%\)/);
    expect(formatDuration(3725)).toBe('1:02:05');
    expect(formatDuration(65)).toBe('1:05');
  });
});

describe('HTML report', () => {
  it('draws inline SVG curves and sample rows', () => {
    const svg = lineChart('Loss', [{ name: 'train', points: [[1, 3], [2, 2], [3, 1]] }]);
    expect(svg).toMatch(/^<svg[^>]*>.*<polyline/);
    const html = renderReport({
      title: 'run <1>',
      log_history: [{ step: 1, loss: 3, learning_rate: 1e-3 }, { step: 2, loss: 2, learning_rate: 5e-4 }, { step: 2, eval_loss: 2.1, eval_CIDEr: 0.5 }],
      summary: { train_runtime: 1.5 },
      samples: [{ id: 'x', prediction: 'a red circle', references: ['a small red circle'], image: 'data:image/png;base64,AAAA' }],
    });
    expect(html).toContain('run &lt;1&gt;');
    expect((html.match(/<svg/g) ?? []).length).toBe(3); // loss, lr, caption metrics
    expect(html).toContain('<img src="data:image/png;base64,AAAA"');
    expect(html).toContain('a small red circle');
  });
});
