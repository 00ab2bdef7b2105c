/** distributed.init() and the ProcessGroup collectives on their own (loopback, Gloo). */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/net.js';
import { DistributedError, InvalidArgumentError } from '../../lib/errors.js';
import { Tensor } from '../../lib/tensor.js';
import { joinGroup } from '../../lib/train/data-parallel.js';
import { distributed, distributedEnv } from '../../lib/train/distributed.js';
import { resolveTrainingArguments } from '../../lib/train/training-args.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const tmp = mkdtempSync(join(tmpdir(), 'tc-pg-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('distributed.init and ProcessGroup', () => {
  it('a group of one: collectives return this rank\'s values; destroy() ends it', async () => {
    const pg = await distributed.init({ rank: 0, world_size: 1, master_port: await freePort(), timeout_ms: 10_000 });
    expect(distributed.group()).toBe(pg);
    expect([pg.rank, pg.worldSize, pg.backend, pg.device, pg.isMain]).toEqual([0, 1, 'gloo', 'cpu', true]);
    const t = Tensor.from(new Float32Array([1.5, -2]), [2]);
    expect((await pg.allReduce(t, 'max')).toArray()).toEqual([1.5, -2]);
    expect(t.toArray()).toEqual([1.5, -2]); // the input is not changed
    expect((await pg.broadcast(Tensor.from(new Int32Array([7]), [1]), 0)).toArray()).toEqual([7]);
    expect((await pg.allGather(t)).map((x) => x.toArray())).toEqual([[1.5, -2]]);
    expect(await pg.allGatherObject({ a: 'é', n: [1, 2] })).toEqual([{ a: 'é', n: [1, 2] }]);
    await pg.barrier();
    await expect(distributed.init({ rank: 0, world_size: 1 })).rejects.toThrow(/already called/);
    await expect(pg.allReduce(t, 'mean' as 'sum')).rejects.toThrow(InvalidArgumentError);
    await expect(pg.broadcast(t, 1)).rejects.toThrow(/broadcast root/);
    await pg.destroy();
    expect(distributed.group()).toBeNull();
    await expect(pg.barrier()).rejects.toThrow(DistributedError);
    await pg.destroy(); // idempotent
  });

  it('the Trainer opens no group for a launch of one rank (RANK=0, WORLD_SIZE=1)', async () => {
    const saved = { RANK: process.env.RANK, WORLD_SIZE: process.env.WORLD_SIZE };
    Object.assign(process.env, { RANK: '0', WORLD_SIZE: '1' });
    try {
      expect(await joinGroup(resolveTrainingArguments({ output_dir: tmp }), {} as never)).toBeNull();
      expect(distributed.group()).toBeNull();
    } finally {
      for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
    }
  });

  it('refuses bad options and backends this build lacks, with the fix', async () => {
    await expect(distributed.init({ rank: 2, world_size: 2 })).rejects.toThrow(/rank < world_size/);
    await expect(distributed.init({ backend: 'mpi' as 'gloo', world_size: 1 })).rejects.toThrow(/'gloo' or 'nccl'/);
    await expect(distributed.init({ backend: 'nccl', world_size: 1 })).rejects.toThrow(/nccl backend is not in this build|NCCL/);
    await expect(distributed.init({ master_port: 70000, world_size: 1 })).rejects.toThrow(/master_port/);
    expect(() => distributedEnv({ RANK: '0', WORLD_SIZE: '2', MASTER_PORT: 'abc' })).toThrow(/MASTER_PORT/);
  });

  it('a rank whose peers never come fails the rendezvous within its timeout, saying what to check', async () => {
    const t0 = Date.now();
    await expect(distributed.init({ rank: 1, world_size: 2, master_port: await freePort(), timeout_ms: 1500 }))
      .rejects.toThrow(/rank 1 of 2 could not join the process group .*MASTER_ADDR, MASTER_PORT and WORLD_SIZE/);
    expect(Date.now() - t0).toBeLessThan(30_000);
    expect(distributed.group()).toBeNull();
  }, 40_000);

  it('two processes: sum, min, max, broadcast, gather of tensors and of objects of different sizes', async () => {
    const script = join(tmp, 'pg-worker.mjs');
    writeFileSync(script, `
      import { distributed, Tensor } from ${JSON.stringify(pathToFileURL(join(root, 'dist', 'lib', 'index.js')).href)};
      const pg = await distributed.init({ timeout_ms: 30000 });
      const r = pg.rank;
      const t = Tensor.from(new Float32Array([r + 1, 10 * r]), [2]);
      const out = {
        sum: (await pg.allReduce(t, 'sum')).toArray(),
        min: (await pg.allReduce(t, 'min')).toArray(),
        max: (await pg.allReduce(Tensor.from(new BigInt64Array([BigInt(r)]), [1]), 'max')).toArray(),
        bcast: (await pg.broadcast(Tensor.from(new Int32Array([r === 1 ? 42 : -1]), [1]), 1)).toArray(),
        gather: (await pg.allGather(t)).map((x) => x.toArray()),
        objects: await pg.allGatherObject(r === 0 ? { s: 'short' } : { s: 'a much longer string with ünïcode', list: [1, 2, 3] }),
      };
      await pg.barrier();
      process.stdout.write(JSON.stringify(out));
      await pg.destroy();
    `);
    const port = await freePort();
    const run = (rank: number) => new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const c = spawn(process.execPath, [script], {
        env: { ...process.env, RANK: String(rank), WORLD_SIZE: '2', MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      c.stdout.on('data', (d: Buffer) => (out += d.toString()));
      c.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const kill = setTimeout(() => c.kill('SIGKILL'), 60_000);
      c.on('exit', (code) => {
        clearTimeout(kill);
        resolve({ code, out, err });
      });
    });
    const [a, b] = await Promise.all([run(0), run(1)]);
    expect(a.code, a.err).toBe(0);
    expect(b.code, b.err).toBe(0);
    const expected = {
      sum: [3, 10], min: [1, 0], max: [1], bcast: [42], gather: [[1, 0], [2, 10]],
      objects: [{ s: 'short' }, { s: 'a much longer string with ünïcode', list: [1, 2, 3] }],
    };
    expect(JSON.parse(a.out)).toEqual(expected);
    expect(JSON.parse(b.out)).toEqual(expected);
  }, 90_000);
});
