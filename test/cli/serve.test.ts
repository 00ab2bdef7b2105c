// `torch-caption serve` end to end, through the built CLI (dist/): listen on a free port, caption, SIGTERM.
import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeWithFixtures } from '../helpers/fixtures.js';
import { pipeline } from '../../lib/pipeline.js';

const bin = join(__dirname, '..', '..', 'bin', 'torch-caption.js');

describe('torch-caption serve usage', () => {
  it('has --help and exits 2 on bad usage', () => {
    const help = spawnSync(process.execPath, [bin, 'serve', '--help'], { encoding: 'utf8', timeout: 60_000 });
    expect(help.status).toBe(0);
    for (const flag of ['--port', '--host', '--max-batch', '--max-wait-ms', '--max-body-mb', '--timeout-ms', '--max-queue']) expect(help.stdout).toContain(flag);
    const bad = spawnSync(process.execPath, [bin, 'serve', '--model', 'm', '--port', 'x'], { encoding: 'utf8', timeout: 60_000 });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/port number/);
  });
});

describeWithFixtures('torch-caption serve on a fixture model', (fixtures) => {
  it('prints its port, captions a request, drains the one in flight on SIGTERM and exits 0', async () => {
    const model = join(fixtures, 'models', 'vit-gpt2-tiny');
    const image = readFileSync(join(fixtures, 'images', 'flower.jpg'));
    const child = spawn(process.execPath, [bin, 'serve', '--model', model, '--port', '0', '--max-wait-ms', '3000'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no port printed in 60 s; stderr: ${stderr}`)), 60_000);
        const check = (): void => {
          const m = /on http:\/\/127\.0\.0\.1:(\d+) \(port (\d+)\)/.exec(stdout);
          if (m) {
            clearTimeout(timer);
            resolve(Number(m[2]));
          }
        };
        child.stdout.on('data', check);
        void exited.then((code) => reject(new Error(`serve exited (${code}) before listening: ${stderr}`)));
      });
      const url = `http://127.0.0.1:${port}`;
      const [expected] = await (await pipeline('image-to-text', model))(image);
      const first = await fetch(`${url}/caption`, { method: 'POST', headers: { 'Content-Type': 'image/jpeg' }, body: image });
      expect(first.status).toBe(200);
      expect((await first.json()).generated_text).toBe(expected!.generated_text);
      // a second request waits up to 3 s for its batch; SIGTERM runs it at once and then exits
      const inFlight = fetch(`${url}/caption`, { method: 'POST', headers: { 'Content-Type': 'image/jpeg' }, body: image });
      const end = Date.now() + 10_000;
      while (!/^torch_caption_queue_depth 1$/m.test(await (await fetch(`${url}/metrics`)).text())) {
        if (Date.now() > end) throw new Error('the request never reached the queue');
        await new Promise((r) => setTimeout(r, 20));
      }
      const t0 = Date.now();
      child.kill('SIGTERM');
      const second = await inFlight;
      expect(second.status).toBe(200);
      expect((await second.json()).generated_text).toBe(expected!.generated_text);
      expect(Date.now() - t0).toBeLessThan(2500);
      expect(await exited).toBe(0);
      expect(stderr).toMatch(/SIGTERM, draining 1 queued request/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
