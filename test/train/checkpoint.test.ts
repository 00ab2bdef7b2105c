import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  latestCheckpoint, listCheckpoints, removeStaleTemporaries, resolveResumePath, rotateCheckpoints, writeFolderAtomic,
} from '../../lib/train/checkpoint.js';
import { tempDir } from './helpers.js';

let cleanup: (() => void) | undefined;
afterEach(() => cleanup?.());

function fakeCheckpoints(steps: number[]): string {
  const t = tempDir();
  cleanup = t.cleanup;
  for (const s of steps) {
    mkdirSync(join(t.dir, `checkpoint-${s}`));
    writeFileSync(join(t.dir, `checkpoint-${s}`, 'trainer_state.json'), '{}');
  }
  return t.dir;
}

const names = (dir: string) => readdirSync(dir).filter((n) => n.startsWith('checkpoint-')).sort((a, b) => Number(a.slice(11)) - Number(b.slice(11)));

describe('checkpoint folders', () => {
  it('lists complete checkpoints by step and finds the latest', async () => {
    const dir = fakeCheckpoints([10, 2, 100]);
    mkdirSync(join(dir, 'checkpoint-500')); // no trainer_state.json: incomplete, ignored
    expect((await listCheckpoints(dir)).map((c) => c.step)).toEqual([2, 10, 100]);
    expect(await latestCheckpoint(dir)).toBe(join(dir, 'checkpoint-100'));
    expect(await resolveResumePath(true, dir)).toBe(join(dir, 'checkpoint-100'));
    expect(await resolveResumePath(join(dir, 'checkpoint-10'), dir)).toBe(join(dir, 'checkpoint-10'));
    expect(await resolveResumePath(false, dir)).toBeNull();
    await expect(resolveResumePath(join(dir, 'checkpoint-500'), dir)).rejects.toThrow(/trainer_state\.json/);
    await expect(resolveResumePath(true, join(dir, 'empty'))).rejects.toThrow(/no checkpoint/);
  });

  it('rotation keeps the newest save_total_limit checkpoints', async () => {
    const dir = fakeCheckpoints([1, 2, 3, 4, 5]);
    await rotateCheckpoints(dir, 2, null);
    expect(names(dir)).toEqual(['checkpoint-4', 'checkpoint-5']);
  });

  it('rotation never deletes the best checkpoint', async () => {
    const dir = fakeCheckpoints([1, 2, 3, 4, 5]);
    await rotateCheckpoints(dir, 2, join(dir, 'checkpoint-2'));
    expect(names(dir)).toEqual(['checkpoint-2', 'checkpoint-5']);
    const dir2 = fakeCheckpoints([1, 2, 3]);
    await rotateCheckpoints(dir2, 1, join(dir2, 'checkpoint-1')); // limit 1 with an older best keeps 2 (HF)
    expect(names(dir2)).toEqual(['checkpoint-1', 'checkpoint-3']);
    const dir3 = fakeCheckpoints([1, 2, 3]);
    await rotateCheckpoints(dir3, 1, join(dir3, 'checkpoint-3'));
    expect(names(dir3)).toEqual(['checkpoint-3']);
    const dir4 = fakeCheckpoints([1, 2]);
    await rotateCheckpoints(dir4, null, null);
    expect(names(dir4)).toEqual(['checkpoint-1', 'checkpoint-2']);
  });

  it('writes a folder atomically: nothing appears when filling fails, a rewrite replaces it whole', async () => {
    const dir = fakeCheckpoints([]);
    await expect(writeFolderAtomic(dir, 'checkpoint-7', async (tmp) => {
      writeFileSync(join(tmp, 'a.txt'), 'half');
      throw new Error('disk full');
    })).rejects.toThrow('disk full');
    expect(readdirSync(dir)).toEqual([]);
    await writeFolderAtomic(dir, 'checkpoint-7', async (tmp) => writeFileSync(join(tmp, 'a.txt'), 'one'));
    await writeFolderAtomic(dir, 'checkpoint-7', async (tmp) => writeFileSync(join(tmp, 'b.txt'), 'two'));
    expect(readdirSync(join(dir, 'checkpoint-7'))).toEqual(['b.txt']);
    expect(readFileSync(join(dir, 'checkpoint-7', 'b.txt'), 'utf8')).toBe('two');
    mkdirSync(join(dir, '.tmp-checkpoint-9-123'));
    await removeStaleTemporaries(dir);
    expect(existsSync(join(dir, '.tmp-checkpoint-9-123'))).toBe(false);
    expect(readdirSync(dir)).toEqual(['checkpoint-7']);
  });
});
