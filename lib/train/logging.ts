/**
 * Training output: a JSONL log of every logged value (output_dir/trainer_log.jsonl) and the progress
 * display: a cli-progress bar with step, epoch, loss, lr, samples/s and ETA on a TTY, plain periodic
 * lines otherwise (CI logs, pipes).
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import cliProgress from 'cli-progress';

/** Appends one JSON object per line; each write is a single appendFileSync, so lines never interleave. */
export class JsonlLogger {
  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
  }

  write(entry: Record<string, unknown>): void {
    appendFileSync(this.path, JSON.stringify({ ...entry, time: new Date().toISOString() }) + '\n');
  }
}

/** Seconds as h:mm:ss or m:ss. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const two = (n: number): string => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${two(m)}:${two(sec)}` : `${m}:${two(sec)}`;
}

function formatLr(lr: number): string {
  return lr === 0 ? '0' : lr.toExponential(2);
}

export interface ProgressValues {
  epoch: number;
  loss?: number;
  learning_rate?: number;
}

export interface ProgressOptions {
  /** Where lines go (default: stderr). */
  write?: (text: string) => void;
  /** Draw a bar (default: stderr is a TTY). */
  tty?: boolean;
  /** No bar and no periodic lines (HF disable_tqdm); log lines still print. */
  disabled?: boolean;
  /** Seconds between plain lines when not on a TTY (default 10). */
  intervalSeconds?: number;
}

/** Progress of a training run. */
export class ProgressReporter {
  readonly #write: (text: string) => void;
  readonly #tty: boolean;
  readonly #disabled: boolean;
  readonly #interval: number;
  #bar: cliProgress.SingleBar | null = null;
  #total = 0;
  #startStep = 0;
  #startTime = 0;
  #samples = 0;
  #lastLine = 0;
  #last: ProgressValues & { step: number } = { step: 0, epoch: 0 };

  constructor(opts: ProgressOptions = {}) {
    this.#write = opts.write ?? ((t) => void process.stderr.write(t));
    this.#tty = opts.tty ?? (opts.write === undefined && process.stderr.isTTY === true);
    this.#disabled = opts.disabled ?? false;
    this.#interval = (opts.intervalSeconds ?? 10) * 1000;
  }

  start(totalSteps: number, startStep: number): void {
    this.#total = totalSteps;
    this.#startStep = startStep;
    this.#startTime = Date.now();
    this.#lastLine = this.#startTime;
    this.#samples = 0;
    this.#last = { step: startStep, epoch: 0 };
    if (this.#disabled || !this.#tty) return;
    this.#bar = new cliProgress.SingleBar({
      format: '{bar} {percentage}% | step {value}/{total} | epoch {epoch} | loss {loss} | lr {lr} | {sps} samples/s | ETA {etaText}',
      stream: process.stderr,
      hideCursor: true,
      fps: 5,
      barsize: 24,
      clearOnComplete: false,
    }, cliProgress.Presets.shades_classic);
    this.#bar.start(totalSteps, startStep, { epoch: '0.00', loss: '-', lr: '-', sps: '-', etaText: '--:--' });
  }

  get total(): number {
    return this.#total;
  }

  /** Change the planned number of steps (ETA and bar follow). */
  setTotal(total: number): void {
    this.#total = total;
    this.#bar?.setTotal(total);
  }

  /** Rows per second over this run so far. */
  get samplesPerSecond(): number {
    const secs = (Date.now() - this.#startTime) / 1000;
    return secs > 0 ? this.#samples / secs : 0;
  }

  eta(step: number): number {
    const done = step - this.#startStep;
    if (done <= 0) return NaN;
    return ((Date.now() - this.#startTime) / 1000 / done) * (this.#total - step);
  }

  /** After each optimizer step. */
  update(step: number, samples: number, values: ProgressValues): void {
    this.#samples += samples;
    this.#last = { ...this.#last, ...values, step };
    if (this.#disabled) return;
    const loss = this.#last.loss;
    const payload = {
      epoch: values.epoch.toFixed(2),
      loss: loss === undefined ? '-' : loss.toFixed(4),
      lr: this.#last.learning_rate === undefined ? '-' : formatLr(this.#last.learning_rate),
      sps: this.samplesPerSecond.toFixed(1),
      etaText: formatDuration(this.eta(step)),
    };
    if (this.#bar) {
      this.#bar.update(step, payload);
      return;
    }
    const now = Date.now();
    if (now - this.#lastLine >= this.#interval || step >= this.#total) {
      this.#lastLine = now;
      const pct = this.#total > 0 ? Math.floor((100 * step) / this.#total) : 0;
      this.#write(`step ${step}/${this.#total} (${pct}%) | epoch ${payload.epoch} | loss ${payload.loss} | lr ${payload.lr} | ${payload.sps} samples/s | ETA ${payload.etaText}\n`);
    }
  }

  /** A message line (logs, evaluation results, notices), drawn above the bar on a TTY. */
  line(text: string): void {
    if (this.#bar) {
      process.stderr.write('\r\x1b[2K' + text + '\n');
      (this.#bar as unknown as { render(force?: boolean): void }).render(true);
      return;
    }
    this.#write(text + '\n');
  }

  stop(): void {
    if (this.#bar) {
      this.#bar.stop();
      this.#bar = null;
    }
  }
}
