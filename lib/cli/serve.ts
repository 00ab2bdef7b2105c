/**
 * `torch-caption serve --model DIR [--port N] [--host H] [--max-batch N] [--max-wait-ms N] [--max-queue N]
 *  [--max-body-mb N] [--timeout-ms N] [--device D]`: the caption HTTP server (docs/serving.md).
 */
import type { Command } from 'commander';
import { startServer } from '../serve/server.js';
import { parsePositiveInt, printJson, UsageError } from './common.js';

function parseNonNegativeNumber(value: string, name: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`Expected a non-negative number for ${name} but received ${JSON.stringify(value)}`);
  return n;
}

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`Expected a port number in [0, 65535] for --port but received ${JSON.stringify(value)}`);
  return n;
}

interface ServeOptions {
  model: string;
  port: number;
  host: string;
  maxBatch: number;
  maxWaitMs: number;
  maxQueue: number;
  maxBodyMb: number;
  timeoutMs: number;
  device: string;
  json?: boolean;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve captions over HTTP: POST /caption, GET /health, GET /metrics (requests are batched dynamically)')
    .requiredOption('--model <dir>', 'model folder or Hugging Face hub id')
    .option('--port <n>', 'port to listen on (0: any free port, printed when listening)', parsePort, 8080)
    .option('--host <host>', 'address to bind (use 0.0.0.0 to listen on every interface)', '127.0.0.1')
    .option('--max-batch <n>', 'most images per batched generate call (1 turns batching off)', (v) => parsePositiveInt(v, '--max-batch'), 16)
    .option('--max-wait-ms <n>', 'longest a request waits for its batch to fill', (v) => parseNonNegativeNumber(v, '--max-wait-ms'), 10)
    .option('--max-queue <n>', 'most requests waiting; more get 503', (v) => parsePositiveInt(v, '--max-queue'), 256)
    .option('--max-body-mb <n>', 'largest request body in MiB; larger ones get 413', (v) => parseNonNegativeNumber(v, '--max-body-mb'), 20)
    .option('--timeout-ms <n>', 'per-request time limit; past it, 504', (v) => parsePositiveInt(v, '--timeout-ms'), 30_000)
    .option('--device <device>', 'cpu, cuda, cuda:N or auto', 'cpu')
    .option('--json', 'print the listening line as JSON: {"url", "host", "port"}')
    .action(async (opts: ServeOptions) => {
      const maxBodyBytes = Math.floor(opts.maxBodyMb * 1024 * 1024);
      if (maxBodyBytes < 1) throw new UsageError(`Expected a positive size for --max-body-mb but received ${opts.maxBodyMb}`);
      const server = await startServer({
        model: opts.model, port: opts.port, host: opts.host, device: opts.device as 'cpu',
        maxBatchSize: opts.maxBatch, maxWaitMs: opts.maxWaitMs, maxQueue: opts.maxQueue, maxBodyBytes, timeoutMs: opts.timeoutMs,
      });
      const info = server.address!;
      if (opts.json) printJson(info);
      else process.stdout.write(`torch-caption: serving ${opts.model} on ${info.url} (port ${info.port})\n`);
      // SIGTERM / SIGINT: stop accepting, drain, exit 0. A second signal exits at once (1).
      await new Promise<void>((resolve, reject) => {
        let stopping = false;
        const onSignal = (sig: NodeJS.Signals): void => {
          if (stopping) {
            process.stderr.write(`torch-caption: ${sig} again, exiting without draining\n`);
            process.exit(1);
          }
          stopping = true;
          process.stderr.write(`torch-caption: ${sig}, draining ${server.captioner.stats().queueDepth + server.captioner.stats().running} queued request(s)\n`);
          server.close().then(() => {
            process.off('SIGTERM', onSignal);
            process.off('SIGINT', onSignal);
            resolve();
          }, reject);
        };
        process.on('SIGTERM', onSignal);
        process.on('SIGINT', onSignal);
      });
      process.stderr.write('torch-caption: stopped\n');
    });
}
