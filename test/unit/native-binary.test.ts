// Which addon binary loads, and what a failure says (lib/native-binary.ts). The real install path, with a
// packed tarball and no compiler, is scripts/test-install.mjs (CI).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { binaryCandidates, explainLoadFailures, installedLibtorch, PREBUILD_PREFIX, prebuildDir } from '../../lib/native-binary.js';
import { loadAddon } from '../../lib/native.js';

const dirs: string[] = [];
function fakePackage(opts: { local?: boolean; variants?: ('cpu' | 'cuda')[]; extra?: string[] }): string {
  const root = mkdtempSync(join(tmpdir(), 'tc-binary-'));
  dirs.push(root);
  if (opts.local) {
    mkdirSync(join(root, 'build', 'Release'), { recursive: true });
    writeFileSync(join(root, 'build', 'Release', 'torch_caption.node'), '');
  }
  const pre = prebuildDir(root);
  mkdirSync(pre, { recursive: true });
  for (const v of opts.variants ?? []) {
    writeFileSync(join(pre, `${PREBUILD_PREFIX}${v}.node`), '');
    writeFileSync(join(pre, `${PREBUILD_PREFIX}${v}.json`), JSON.stringify({ libtorch: v === 'cuda' ? '2.5.1' : '1.13.0', cxx11Abi: true, cuda: v === 'cuda', torchDir: '/x', napi: 8 }));
  }
  for (const f of opts.extra ?? []) writeFileSync(join(pre, f), '');
  return root;
}

afterEach(() => {
  delete process.env.TORCH_CAPTION_ADDON;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('addon binary selection', () => {
  it('tries a local build first, then the CUDA prebuild, then the CPU one, with their sidecars', () => {
    const root = fakePackage({ local: true, variants: ['cpu', 'cuda'] });
    const c = binaryCandidates(root);
    expect(c.map((x) => x.kind)).toEqual(['local', 'prebuilt-cuda', 'prebuilt-cpu']);
    expect(c[1]!.info?.libtorch).toBe('2.5.1');
    expect(c[2]!.info?.cuda).toBe(false);
    process.env.TORCH_CAPTION_ADDON = 'prebuilt';
    expect(binaryCandidates(root).map((x) => x.kind)).toEqual(['prebuilt-cuda', 'prebuilt-cpu']);
    process.env.TORCH_CAPTION_ADDON = 'local';
    expect(binaryCandidates(root).map((x) => x.kind)).toEqual(['local']);
  });

  it('skips prebuilds for another runtime or libc by node-gyp-build\'s tag rules', () => {
    const root = fakePackage({ variants: [], extra: ['torch-caption.napi.musl.cpu.node', 'torch-caption.electron.napi.glibc.cpu.node'] });
    const musl = binaryCandidates(root);
    expect(musl).toEqual([]);
  });

  it('explains a missing libtorch with both versions and the fixes, never only the dlopen line', () => {
    const root = fakePackage({ variants: ['cpu'] });
    const [cpu] = binaryCandidates(root);
    const text = explainLoadFailures([{ candidate: cpu!, error: new Error('libtorch_cpu.so.1.13: cannot open shared object file: No such file or directory') }], root);
    expect(text).toMatch(/built for libtorch 1\.13\.0 \(C\+\+11 ABI on\)/);
    expect(text).toMatch(/apt-get install libtorch-dev/);
    expect(text).toMatch(/npm rebuild @acme\/torch-caption --build-from-source/);
    expect(text).toMatch(/loader said: libtorch_cpu\.so\.1\.13: cannot open/);
    const none = explainLoadFailures([], root);
    expect(none).toMatch(/not built and no prebuilt binary matches this platform/);
    expect(none).toMatch(/npm run setup/);
  });

  it('reads the installed libtorch version where the system package keeps it', () => {
    const found = installedLibtorch();
    // This machine has Debian's libtorch (setup installs it): its soname carries the version.
    expect(found?.version).toMatch(/^\d+\.\d+/);
    expect(loadAddon().addon.buildInfo().torchVersion.startsWith(found!.version)).toBe(true);
  });
});
