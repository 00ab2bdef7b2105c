// The data-parallel launcher with tiny worker scripts on loopback (no rendezvous, no libtorch): environment,
// exit codes, failure handling, signals. The signal and CLI cases run the built code (dist/:
// `npx tsc -p tsconfig.json`) in a child process, so the signals are real ones.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { launch, type LaunchOptions } from '../../lib/train/launcher.js';
import { distributedEnv, isDistributedLaunch } from '../../lib/train/distributed.js';
import { tempDir } from './helpers.js';

const tmp = tempDir('tc-launch-');
afterAll(() => tmp.cleanup());
const root = join(__dirname, '..', '..');
const bin = join(root, 'bin', 'torch-caption.js');

/** Writes a worker script (ESM) into the temp folder; `DIR` in it is the temp folder. */
function script(name: string, body: string): string {
  const path = join(tmp.dir, name);
  writeFileSync(path, `import { writeFileSync, appendFileSync } from 'node:fs';\nconst DIR = ${JSON.stringify(tmp.dir)};\nconst RANK = process.env.RANK;\n${body}\n`);
  return path;
}

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

async function run(worker: string, o: Partial<LaunchOptions> = {}): Promise<{ code: number; out: string; err: string; ms: number }> {
  const stdout = new Sink();
  const stderr = new Sink();
  const t0 = Date.now();
  const code = await launch({ nprocPerNode: 2, command: [process.execPath, worker], forwardSignals: false, stdout, stderr, ...o });
  return { code, out: stdout.text, err: stderr.text, ms: Date.now() - t0 };
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('launch: environment', () => {
  const envWorker = script('env.mjs', `
const keys = ['RANK', 'LOCAL_RANK', 'WORLD_SIZE', 'LOCAL_WORLD_SIZE', 'GROUP_RANK', 'NODE_RANK', 'MASTER_ADDR', 'MASTER_PORT', 'OMP_NUM_THREADS', 'TORCHELASTIC_RUN_ID', 'EXTRA'];
writeFileSync(DIR + '/env-' + RANK + '.json', JSON.stringify(Object.fromEntries(keys.map((k) => [k, process.env[k] ?? null]))));
console.log('stdout of ' + RANK);
`);
  const envOf = (rank: number): Record<string, string | null> => JSON.parse(readFileSync(join(tmp.dir, `env-${rank}.json`), 'utf8'));

  it('gives each rank torchrun\'s variables; rank 0\'s stdout goes through unprefixed, the rest prefixed to stderr', async () => {
    const r = await run(envWorker, { masterAddr: '127.0.0.2', masterPort: 29123, env: { OMP_NUM_THREADS: undefined, EXTRA: 'x', RANK: '9' } });
    expect(r.code).toBe(0);
    for (const rank of [0, 1]) {
      expect(envOf(rank)).toMatchObject({
        RANK: String(rank), LOCAL_RANK: String(rank), WORLD_SIZE: '2', LOCAL_WORLD_SIZE: '2', GROUP_RANK: '0', NODE_RANK: '0',
        MASTER_ADDR: '127.0.0.2', MASTER_PORT: '29123', TORCHELASTIC_RUN_ID: 'none', EXTRA: 'x',
        OMP_NUM_THREADS: String(Math.max(1, Math.floor(availableParallelism() / 2))),
      });
    }
    expect(r.out).toBe('stdout of 0\n');
    expect(r.err).toContain('[rank 1] stdout of 1\n');
    expect(r.err).toMatch(/^torch-caption launch: OMP_NUM_THREADS=\d+ for each of the 2 ranks/m);
  });

  it('multi-node arithmetic: nnodes 2, node rank 1 -> RANK 2 and 3 of 4', async () => {
    const r = await run(envWorker, { nnodes: 2, nodeRank: 1, masterAddr: '10.0.0.1', env: { OMP_NUM_THREADS: '3' } });
    expect(r.code).toBe(0);
    expect(envOf(2)).toMatchObject({ RANK: '2', LOCAL_RANK: '0', WORLD_SIZE: '4', LOCAL_WORLD_SIZE: '2', GROUP_RANK: '1', MASTER_ADDR: '10.0.0.1', MASTER_PORT: '29500', OMP_NUM_THREADS: '3' });
    expect(envOf(3)).toMatchObject({ RANK: '3', LOCAL_RANK: '1', WORLD_SIZE: '4', GROUP_RANK: '1' });
    expect(r.out).toBe(''); // no rank 0 on this node
    expect(r.err).toContain('[rank 2] stdout of 2');
    expect(r.err).not.toMatch(/OMP_NUM_THREADS=/); // given: left alone, no note
  });

  it('rejects bad options', async () => {
    await expect(launch({ nprocPerNode: 0 })).rejects.toThrow(/nprocPerNode/);
    await expect(launch({ nprocPerNode: 1, nnodes: 2, nodeRank: 2 })).rejects.toThrow(/nodeRank/);
    await expect(launch({ nprocPerNode: 1, masterPort: 70000 })).rejects.toThrow(/masterPort/);
  });

  it('distributedEnv: a single process outside a launch, the numbers inside one, an error when inconsistent', () => {
    expect(isDistributedLaunch({})).toBe(false);
    expect(distributedEnv({})).toEqual({ rank: 0, world_size: 1, local_rank: 0, local_world_size: 1, node_rank: 0, master_addr: '127.0.0.1', master_port: 29500 });
    expect(isDistributedLaunch({ RANK: '3', WORLD_SIZE: '4' })).toBe(true);
    expect(distributedEnv({ RANK: '3', WORLD_SIZE: '4', LOCAL_RANK: '1', LOCAL_WORLD_SIZE: '2', GROUP_RANK: '1', MASTER_ADDR: 'h', MASTER_PORT: '1234' }))
      .toEqual({ rank: 3, local_rank: 1, world_size: 4, local_world_size: 2, node_rank: 1, master_addr: 'h', master_port: 1234 });
    expect(distributedEnv({ RANK: '1', WORLD_SIZE: '2' })).toEqual({ rank: 1, local_rank: 1, world_size: 2, local_world_size: 2, node_rank: 0, master_addr: '127.0.0.1', master_port: 29500 });
    expect(() => distributedEnv({ RANK: '2', WORLD_SIZE: '2' })).toThrow(/Inconsistent/);
    expect(() => distributedEnv({ RANK: 'x', WORLD_SIZE: '2' })).toThrow(/RANK/);
    expect(() => distributedEnv({ WORLD_SIZE: '2' })).toThrow(/RANK/);
  });
});

describe('launch: failures', () => {
  it('all exit 0 -> 0', async () => {
    const r = await run(script('ok.mjs', 'console.error("fine " + RANK);'));
    expect(r.code).toBe(0);
    expect(r.err).toContain('[rank 0] fine 0\n');
    expect(r.err).toContain('[rank 1] fine 1\n');
  });

  it('one rank exits 3: named with its stderr tail, the sleeping rank is terminated, 1 within the grace time', async () => {
    const w = script('fail.mjs', `
writeFileSync(DIR + '/pid-' + RANK, String(process.pid));
if (RANK === '1') { for (let i = 0; i < 30; i++) console.error('line ' + i); setTimeout(() => process.exit(3), 100); }
else setTimeout(() => {}, 60_000);
`);
    const r = await run(w, { graceMs: 1000, killTimeoutMs: 2000, tailLines: 5 });
    expect(r.code).toBe(1);
    expect(r.ms).toBeLessThan(10_000);
    expect(r.err).toMatch(/^torch-caption launch: rank 1 \(local rank 1, pid \d+\) exited with code 3; stopping the other 1 rank/m);
    expect(r.err).toContain('last stderr lines of rank 1:\n  | line 25\n  | line 26\n  | line 27\n  | line 28\n  | line 29\n');
    expect(r.err).toMatch(/sending SIGTERM to rank\(s\) 0/);
    expect(r.err).toMatch(/rank 0 was killed by SIGTERM/);
    expect(alive(Number(readFileSync(join(tmp.dir, 'pid-0'), 'utf8')))).toBe(false);
  });

  it('a rank that ignores SIGTERM is killed with SIGKILL (every wait bounded)', async () => {
    const w = script('stubborn.mjs', `
if (RANK === '1') process.exit(1);
process.on('SIGTERM', () => {});
setTimeout(() => {}, 60_000);
`);
    const r = await run(w, { graceMs: 200, killTimeoutMs: 500 });
    expect(r.code).toBe(1);
    expect(r.ms).toBeLessThan(8000);
    expect(r.err).toMatch(/sending SIGKILL to rank\(s\) 0/);
    expect(r.err).toMatch(/rank 0 was killed by SIGKILL/);
  });

  it('a rank killed by SIGKILL is reported with the signal', async () => {
    const w = script('killed.mjs', `
if (RANK === '1') setTimeout(() => process.kill(process.pid, 'SIGKILL'), 100);
else setTimeout(() => {}, 300);
`);
    const r = await run(w, { graceMs: 5000 });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^torch-caption launch: rank 1 .* was killed by SIGKILL/m);
    expect(r.err).not.toMatch(/sending SIGTERM/); // rank 0 finished by itself within the grace time
  });

  it('a worker command that cannot start counts as a failure', async () => {
    const stderr = new Sink();
    const code = await launch({ nprocPerNode: 1, command: [join(tmp.dir, 'no-such-program')], forwardSignals: false, stderr, stdout: new Sink() });
    expect(code).toBe(1);
    expect(stderr.text).toMatch(/rank 0 .* could not start \(.*ENOENT/);
  });
});

describe('launch: signals (real signals to a launcher process; needs dist/)', () => {
  it('a Ctrl-C to the launcher\'s process group reaches each worker once; they exit 0 and so does the launcher', async () => {
    const w = script('trap.mjs', `
let n = 0;
process.on('SIGINT', () => {
  n++;
  appendFileSync(DIR + '/sigint-' + RANK, 'x');
  setTimeout(() => process.exit(0), 300); // time for a second (unwanted) SIGINT to arrive
});
writeFileSync(DIR + '/ready-' + RANK, '');
setTimeout(() => process.exit(5), 30_000);
`);
    const runner = join(tmp.dir, 'runner.mjs');
    writeFileSync(runner, `import { launch } from ${JSON.stringify(join(root, 'dist', 'lib', 'train', 'launcher.js'))};
process.exitCode = await launch({ nprocPerNode: 2, command: [process.execPath, ${JSON.stringify(w)}], graceMs: 1000, killTimeoutMs: 1000 });\n`);
    // Its own process group, like a foreground job in a terminal: the group signal is what Ctrl-C sends.
    const child = spawn(process.execPath, [runner], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await waitFor(() => existsSync(join(tmp.dir, 'ready-0')) && existsSync(join(tmp.dir, 'ready-1')), 15_000);
      process.kill(-child.pid!, 'SIGINT');
      const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('timeout'), 15_000))]);
      expect(code, err).toBe(0);
    } finally {
      if (child.exitCode === null) process.kill(-child.pid!, 'SIGKILL');
    }
    expect(readFileSync(join(tmp.dir, 'sigint-0'), 'utf8')).toBe('x');
    expect(readFileSync(join(tmp.dir, 'sigint-1'), 'utf8')).toBe('x');
    expect(err).toMatch(/SIGINT: forwarded to 2 worker\(s\)/);
  }, 40_000);
});

describe('torch-caption train launcher flags (needs dist/)', () => {
  const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    spawnSync(process.execPath, [bin, 'train', ...args], { encoding: 'utf8', timeout: 60_000, cwd: tmp.dir, env: { ...process.env, RANK: '', WORLD_SIZE: '', ...env } });
  const cfg = join(tmp.dir, 'train.json');
  writeFileSync(cfg, JSON.stringify({ model: { config: 'tiny' }, datset: {}, args: { output_dir: 'out' } }));

  it.each([
    [['--nproc-per-node', '0'], /Expected a positive integer for --nproc-per-node but received "0"/],
    [['--nproc-per-node', '2', '--nnodes', '2', '--node-rank', '2', '--master-addr', 'h'], /Expected --node-rank below --nnodes \(2\) but received 2/],
    [['--nproc-per-node', '2', '--node-rank', '-1'], /Expected an integer ≥ 0 for --node-rank/],
    [['--nproc-per-node', '2', '--master-port', '70000'], /Expected a TCP port \(1-65535\) for --master-port but received "70000"/],
    [['--nnodes', '2'], /--nnodes needs --nproc-per-node/],
    [['--nproc-per-node', '2', '--nnodes', '2', '--node-rank', '1'], /--nnodes > 1 needs --master-addr/],
  ])('%j: usage error, exit 2', (flags, message) => {
    const r = cli(['--config', cfg, ...flags]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('refuses to launch from inside a worker (RANK and WORLD_SIZE set)', () => {
    const r = cli(['--config', cfg, '--nproc-per-node', '2'], { RANK: '0', WORLD_SIZE: '2' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/already rank 0 of 2/);
  });

  it('launches workers that run the same train command without the launcher flags', () => {
    // The config has a misspelt key, so each worker stops at once with a usage error (exit 2): the launcher
    // reports the failure and returns 1. A worker that still saw --nproc-per-node would say "already rank".
    const r = cli(['--config', cfg, '--nproc-per-node', '2', '--master-port', '29611']);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/\[rank 0\] torch-caption: Unknown key 'datset'/);
    expect(r.stderr).toMatch(/\[rank 1\] torch-caption: Unknown key 'datset'/);
    expect(r.stderr).toMatch(/^torch-caption launch: rank [01] .*exited with code 2/m);
    expect(r.stderr).not.toMatch(/already rank/);
  });
});
