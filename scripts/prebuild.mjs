#!/usr/bin/env node
// Makes the prebuilt binary that ships in the package: builds the addon (incrementally, with the
// precompiled header) when needed, strips it into prebuilds/<platform>-<arch>/ under node-gyp-build's tag
// names, and writes a sidecar saying which libtorch it needs. The variant is the build's: CPU against
// Debian's libtorch, CUDA with TORCH_CAPTION_TORCH=python on a GPU machine (see README).
//   node scripts/prebuild.mjs            build if stale, then copy
//   node scripts/prebuild.mjs --if-stale  do nothing when the prebuild is newer than the sources
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'build', 'Release', 'torch_caption.node');
const outDir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);

/** Newest mtime under native/ (sources and headers) and the build files. */
function sourcesMtime() {
  let m = Math.max(statSync(join(root, 'CMakeLists.txt')).mtimeMs, statSync(join(root, 'package.json')).mtimeMs);
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) { if (e.name !== 'fuzz') walk(p); } else if (/\.(cc|h|txt)$/.test(e.name)) m = Math.max(m, statSync(p).mtimeMs);
    }
  };
  walk(join(root, 'native'));
  return m;
}

const existing = existsSync(outDir) ? readdirSync(outDir).filter((f) => f.endsWith('.node')) : [];
if (process.argv.includes('--if-stale') && existing.length && existing.every((f) => statSync(join(outDir, f)).mtimeMs >= sourcesMtime())) {
  console.log(`prebuild: ${existing.join(', ')} up to date`);
  process.exit(0);
}

if (!existsSync(built) || statSync(built).mtimeMs < sourcesMtime()) {
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'build-native.mjs')], { stdio: 'inherit', cwd: root });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

// What the binary was built against, from the binary itself (a child process: it loads libtorch).
const probe = spawnSync(process.execPath, ['-e', `const a = require(${JSON.stringify(built)}); console.log(JSON.stringify(a.buildInfo()))`], { encoding: 'utf8' });
if (probe.status !== 0) {
  console.error(`prebuild: the built addon does not load:\n${probe.stderr}`);
  process.exit(1);
}
const info = JSON.parse(probe.stdout.trim().split('\n').pop());
const variant = info.cudaCompiled ? 'cuda' : 'cpu';
const name = `torch-caption.napi.glibc.${variant}`;
mkdirSync(outDir, { recursive: true });
const target = join(outDir, `${name}.node`);
const strip = spawnSync('strip', ['--strip-unneeded', '-o', target, built], { stdio: 'inherit' });
if (strip.status !== 0) {
  console.warn('prebuild: strip failed; shipping the unstripped binary');
  copyFileSync(built, target);
}
const sidecar = { libtorch: info.torchVersion, cxx11Abi: info.cxx11Abi, cuda: info.cudaCompiled, torchDir: info.torchDir, napi: 8, addonVersion: info.addonVersion };
writeFileSync(join(outDir, `${name}.json`), JSON.stringify(sidecar, null, 2) + '\n');
console.log(`prebuild: ${target} (${(statSync(target).size / 1e6).toFixed(1)} MB) for libtorch ${info.torchVersion}${info.cudaCompiled ? ' + CUDA' : ''}, C++11 ABI ${info.cxx11Abi ? 'on' : 'off'}`);
