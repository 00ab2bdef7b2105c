// npm run bench: runs every benchmark and prints its figures. Pass names to run a subset:
//   npm run bench -- generate serve train metrics preprocess data load distributed
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const all = ['metrics', 'preprocess', 'data', 'generate', 'serve', 'train', 'load', 'distributed'];
const chosen = process.argv.slice(2).length ? process.argv.slice(2) : all;
let failed = false;
for (const name of chosen) {
  const file = join(here, `${name}.mjs`);
  if (!existsSync(file)) {
    console.error(`bench: no benchmark named ${name} (have: ${all.join(', ')})`);
    failed = true;
    continue;
  }
  console.log(`\n== ${name} ==`);
  const r = spawnSync(process.execPath, [file], { stdio: 'inherit' });
  failed ||= r.status !== 0;
}
process.exit(failed ? 1 : 0);
