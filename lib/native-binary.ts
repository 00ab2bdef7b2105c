/**
 * Which addon binary to load, and why one does not load. Candidates, in order: a local build
 * (build/Release, what `npm run build:native` or a source install makes), then the prebuilds shipped in
 * the package (prebuilds/<platform>-<arch>/torch-caption.napi.glibc.<cpu|cuda>.node), CUDA first: a CUDA
 * prebuild loads only where its libtorch (with libtorch_cuda) is present, and the CPU one is the fallback.
 * Each prebuild has a sidecar <file>.json saying which libtorch version and C++ ABI it was built against,
 * so a failure can name both versions and the fix instead of showing a raw dlopen error.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(import.meta.url);

/** node-gyp-build's own tag rules (runtime, N-API, libc): a prebuild for another runtime or libc is skipped. */
const nodeGypBuild = require('node-gyp-build') as {
  parseTags(file: string): Record<string, unknown> | undefined;
  matchTags(runtime: string, abi: string): (tags: Record<string, unknown>) => boolean;
};

function matchesThisRuntime(file: string): boolean {
  const tags = nodeGypBuild.parseTags(file);
  return tags !== undefined && nodeGypBuild.matchTags('node', process.versions.modules)(tags);
}

/** The sidecar written next to each prebuild by scripts/prebuild.mjs. */
export interface PrebuildInfo {
  libtorch: string;
  cxx11Abi: boolean;
  cuda: boolean;
  /** Where libtorch was when the prebuild was made (its RUNPATH). */
  torchDir: string;
  napi: number;
}

export interface BinaryCandidate {
  path: string;
  kind: 'local' | 'prebuilt-cpu' | 'prebuilt-cuda';
  info: PrebuildInfo | null;
}

export const PREBUILD_PREFIX = 'torch-caption.napi.glibc.';

export function prebuildDir(root: string): string {
  return join(root, 'prebuilds', `${process.platform}-${process.arch}`);
}

function readInfo(nodeFile: string): PrebuildInfo | null {
  const sidecar = nodeFile.replace(/\.node$/, '.json');
  if (!existsSync(sidecar)) return null;
  try {
    return JSON.parse(readFileSync(sidecar, 'utf8')) as PrebuildInfo;
  } catch {
    return null;
  }
}

/** The binaries to try, in order. TORCH_CAPTION_ADDON=prebuilt skips a local build; =local skips the prebuilds. */
export function binaryCandidates(root: string): BinaryCandidate[] {
  const only = process.env.TORCH_CAPTION_ADDON;
  const out: BinaryCandidate[] = [];
  const local = join(root, 'build', 'Release', 'torch_caption.node');
  if (only !== 'prebuilt' && existsSync(local)) out.push({ path: local, kind: 'local', info: null });
  const dir = prebuildDir(root);
  if (only !== 'local' && existsSync(dir)) {
    const files = readdirSync(dir).filter((f) => f.startsWith(PREBUILD_PREFIX) && f.endsWith('.node') && matchesThisRuntime(f));
    for (const variant of ['cuda', 'cpu'] as const) {
      const f = files.find((name) => name === `${PREBUILD_PREFIX}${variant}.node`);
      if (f) out.push({ path: join(dir, f), kind: `prebuilt-${variant}`, info: readInfo(join(dir, f)) });
    }
  }
  return out;
}

/** The libtorch this machine has, as far as can be told without loading it: LIBTORCH's build-version, or the system package's soname. */
export function installedLibtorch(): { version: string; where: string } | null {
  const dirs = [process.env.LIBTORCH, '/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib'].filter((d): d is string => !!d);
  for (const dir of dirs) {
    const versionFile = join(dir, 'build-version');
    if (existsSync(versionFile)) return { version: readFileSync(versionFile, 'utf8').trim(), where: dir };
    const libdir = existsSync(join(dir, 'lib')) ? join(dir, 'lib') : dir;
    let names: string[] = [];
    try {
      names = readdirSync(libdir);
    } catch {
      continue;
    }
    const so = names.map((n) => /^libtorch_cpu\.so\.(\d+(?:\.\d+)*)$/.exec(n)).find((m) => m !== null);
    if (so) return { version: so[1]!, where: libdir };
    if (names.includes('libtorch_cpu.so')) return { version: 'unknown version', where: libdir };
  }
  return null;
}

/** Causes and fixes for binaries that did not load (each with the loader's own message at the end). */
export function explainLoadFailures(failures: { candidate: BinaryCandidate; error: unknown }[], root: string): string {
  if (failures.length === 0) {
    return [
      `The torch-caption native addon is not built and no prebuilt binary matches this platform (${process.platform}-${process.arch}, Node ${process.versions.node}).`,
      'Possible solutions:',
      '- in a checkout: `npm run setup` (installs libtorch-dev with apt if needed, then builds)',
      '- as a dependency: install libtorch (`apt-get install libtorch-dev libopenblas0-pthread`, or set LIBTORCH=/path/to/libtorch, ' +
        'or TORCH_CAPTION_TORCH=python to use an installed PyTorch) and run `npm rebuild @acme/torch-caption --build-from-source`',
      `(looked in ${join(root, 'build', 'Release')} and ${prebuildDir(root)})`,
    ].join('\n');
  }
  const have = installedLibtorch();
  const lines: string[] = [];
  for (const { candidate, error } of failures) {
    const msg = error instanceof Error ? error.message : String(error);
    const built = candidate.info ? `libtorch ${candidate.info.libtorch}${candidate.info.cuda ? ' with CUDA' : ''} (C++11 ABI ${candidate.info.cxx11Abi ? 'on' : 'off'})` : null;
    lines.push(`Could not load the torch-caption addon ${candidate.path} (${candidate.kind}${built ? `, built for ${built}` : ''}).`);
    if (/lib(torch|c10)[^ ]*\.so/.test(msg)) {
      lines.push(
        have
          ? `  This machine has libtorch ${have.version} (${have.where})${built ? `, but the binary needs ${built}` : ''}.`
          : `  No libtorch was found on this machine${built ? `; the binary needs ${built}` : ''}.`,
      );
    } else if (/undefined symbol/.test(msg)) {
      lines.push(`  The addon and libtorch do not match (another version or C++ ABI${have ? `; this machine has libtorch ${have.version}` : ''}).`);
    } else if (/GLIBC|GLIBCXX|CXXABI/.test(msg)) {
      lines.push('  The binary needs a newer C/C++ runtime than this system has.');
    }
    lines.push(`  (loader said: ${msg.split('\n')[0]})`);
  }
  const cpu = failures.find((f) => f.candidate.kind === 'prebuilt-cpu')?.candidate.info;
  lines.push(
    'Possible solutions:',
    `- install the libtorch the prebuild was made for${cpu ? ` (libtorch ${cpu.libtorch}${cpu.libtorch.startsWith('1.13.') ? ': on Debian 12 `apt-get install libtorch-dev libopenblas0-pthread`' : ''})` : ''}`,
    '- or build against the libtorch you have: `npm rebuild @acme/torch-caption --build-from-source` (as a dependency; npm 11 first asks ' +
      'for `npm install-scripts approve @acme/torch-caption`) or ' +
      '`npm run build:native` (in a checkout), with LIBTORCH=/path/to/libtorch or TORCH_CAPTION_TORCH=python to choose it',
  );
  return lines.join('\n');
}
