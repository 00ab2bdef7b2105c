#!/usr/bin/env node
// postpack: checks the tarball npm just wrote (no build/ leftovers, no fuzz corpora or binaries, the
// prebuild and its sidecar present, dist present) and reports its size. Fails the pack when it is wrong.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const file = `${pkg.name.replace(/^@/, '').replace('/', '-')}-${pkg.version}.tgz`;
const dest = resolve(process.env.npm_config_pack_destination || '.');
const tgz = join(dest, file);
if (!existsSync(tgz)) {
  console.log(`check-pack: ${tgz} not found (npm publish or a dry run): contents not checked`);
  process.exit(0);
}
const list = spawnSync('tar', ['-tzf', tgz], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map((p) => p.replace(/^package\//, ''));
const problems = [];
const forbidden = [/^build\//, /^native\/fuzz\/(corpus|build)\//, /\.o$/, /^node_modules\//, /^test\//, /^\.device\//];
for (const p of list) if (forbidden.some((re) => re.test(p))) problems.push(`should not ship ${p}`);
const platform = `prebuilds/${process.platform}-${process.arch}/`;
if (!list.some((p) => p.startsWith(platform) && p.endsWith('.node'))) problems.push(`no prebuild under ${platform} (run npm run build:prebuild)`);
for (const p of list.filter((p) => p.startsWith('prebuilds/') && p.endsWith('.node'))) {
  if (!list.includes(p.replace(/\.node$/, '.json'))) problems.push(`${p} has no sidecar .json`);
}
for (const need of ['dist/lib/index.js', 'dist/lib/index.d.ts', 'bin/torch-caption.js', 'scripts/install.mjs', 'native/sources.txt']) {
  if (!list.includes(need)) problems.push(`missing ${need}`);
}
if (problems.length) {
  console.error(`check-pack: ${tgz} is not releasable:\n- ${problems.join('\n- ')}`);
  process.exit(1);
}
console.log(`check-pack: ${file}: ${list.length} files, ${(statSync(tgz).size / 1e6).toFixed(2)} MB, prebuilds: ${list.filter((p) => p.startsWith('prebuilds/') && p.endsWith('.node')).join(', ')}`);
