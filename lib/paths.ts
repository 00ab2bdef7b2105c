/** Where the package lives on disk, found from this module's URL (works from lib/ under vitest and from dist/lib/). */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/** The package root: the nearest folder above this module that holds package.json. */
export function packageRoot(): string {
  if (root !== undefined) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('torch-caption: cannot find the package root (no package.json above ' + fileURLToPath(import.meta.url) + ')');
    dir = up;
  }
  root = dir;
  return dir;
}
