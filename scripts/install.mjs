#!/usr/bin/env node
// The package's install step. A prebuild that loads needs nothing (npm 11 does not run dependencies'
// install scripts unless the user approves them, so the loader never relies on this script); otherwise,
// or with --build-from-source (npm rebuild --build-from-source sets npm_config_build_from_source), build
// against the libtorch found here. In a git checkout it does nothing: `npm run setup` builds there.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
if (existsSync(join(root, '.git'))) process.exit(0);

const fromSource = process.env.npm_config_build_from_source === 'true' || process.argv.includes('--build-from-source');
if (!fromSource) {
  const check = spawnSync(process.execPath, ['--input-type=module', '-e',
    `const { loadAddon } = await import(${JSON.stringify(new URL('../dist/lib/native.js', import.meta.url).href)});
     const l = loadAddon(); console.log(l.kind + (l.prebuild ? ' for libtorch ' + l.prebuild.libtorch : ''));`], { encoding: 'utf8' });
  if (check.status === 0) {
    console.log(`torch-caption: using the ${check.stdout.trim()}`);
    process.exit(0);
  }
  console.log(`torch-caption: no binary loads here, building from source.\n${check.stderr.split('\n').filter((l) => l.trim()).slice(-12).join('\n')}`);
}
const r = spawnSync(process.execPath, [join(root, 'scripts', 'build-native.mjs')], { stdio: 'inherit', cwd: root });
process.exit(r.status ?? 1);
