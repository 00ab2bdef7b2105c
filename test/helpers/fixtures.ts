// Locates the golden fixtures (../shared/fixtures beside the repository, or TORCH_CAPTION_FIXTURES).
// When they are missing, fixture suites are skipped with one visible line, except under CI=true, where a
// missing folder is a failure.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'vitest';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function fixturesDir(): string | null {
  const dir = process.env.TORCH_CAPTION_FIXTURES ?? join(repoRoot, '..', 'shared', 'fixtures');
  return existsSync(dir) ? resolve(dir) : null;
}

export function describeWithFixtures(name: string, fn: (dir: string) => void): void {
  const dir = fixturesDir();
  if (dir) {
    describe(name, () => fn(dir));
    return;
  }
  if (process.env.CI === 'true') {
    describe(name, () => {
      it('has the golden fixtures', () => {
        throw new Error('golden fixtures not found (set TORCH_CAPTION_FIXTURES or place them at ../shared/fixtures); required under CI=true');
      });
    });
    return;
  }
  console.log(`[skipped] ${name}: golden fixtures not found (set TORCH_CAPTION_FIXTURES or place ../shared/fixtures)`);
  describe.skip(name, () => fn(''));
}
