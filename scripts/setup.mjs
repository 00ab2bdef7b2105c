// Makes a fresh Debian/Ubuntu machine ready, idempotently, and in well under 5 s when nothing is to do:
//   1. libtorch (apt libtorch-dev, plus ccache to speed up rebuilds) when no libtorch is found, and gloo's
//      headers (apt libgloo-dev) that the data-parallel Gloo backend compiles against,
//   2. npm packages when node_modules is missing or older than package-lock.json,
//   3. the native addon when missing or older than its sources,
//   4. the compiled TypeScript (dist/) when missing or older than lib/.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, realpathSync, statSync, utimesSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findTorch } from './find-torch.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const t0 = Date.now();
const quiet = process.argv.includes('--quiet');
const log = (msg) => { if (!quiet) console.log(`setup: ${msg}`); };

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
  if (r.status !== 0) {
    console.error(`setup: \`${cmd} ${args.join(' ')}\` failed (exit ${r.status ?? r.signal})`);
    process.exit(1);
  }
}

/** Newest mtime of files under `paths` (recursively), with an optional file filter. */
function newest(paths, filter = () => true) {
  let m = 0;
  const walk = (p) => {
    if (!existsSync(p)) return;
    const s = statSync(p);
    if (s.isDirectory()) {
      for (const e of readdirSync(p)) if (e !== 'node_modules' && !e.startsWith('.')) walk(join(p, e));
    } else if (filter(p)) {
      m = Math.max(m, s.mtimeMs);
    }
  };
  paths.forEach((p) => walk(join(root, p)));
  return m;
}

const mtime = (p) => (existsSync(join(root, p)) ? statSync(join(root, p)).mtimeMs : 0);

// 1. libtorch
if (!findTorch()) {
  const isRoot = process.getuid?.() === 0;
  const apt = spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
  if (!apt) {
    console.error('setup: libtorch not found. Install libtorch and set LIBTORCH=/path/to/libtorch (or TORCH_CAPTION_TORCH=python), then rerun.');
    process.exit(1);
  }
  if (!isRoot) {
    console.error('setup: libtorch not found. Install it with:\n  sudo apt-get update && sudo apt-get install -y libtorch-dev ccache\nthen rerun this command.');
    process.exit(1);
  }
  log('installing libtorch-dev with apt (one time, a few minutes)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const policy = execFileSync('apt-cache', ['policy', 'libtorch-dev'], { encoding: 'utf8', env });
  if (!/Candidate: (?!\(none\))/.test(policy)) run('apt-get', ['update', '-qq'], { env });
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'libtorch-dev', 'libopenblas0-pthread', 'ccache'], { env });
  if (!findTorch()) {
    console.error('setup: libtorch-dev installed but TorchConfig.cmake was not found');
    process.exit(1);
  }
}

// 1a. Gloo's headers: Debian's libtorch has the Gloo backend compiled in (libgloo0), but its c10d header
//     includes gloo's own headers, which live in libgloo-dev. Without them the addon builds without the CPU
//     data-parallel backend (distributed.init() then says so), so install them and rebuild once.
let rebuildForGloo = false;
const torchNow = findTorch();
if (torchNow?.source === 'system' && !existsSync('/usr/include/gloo/context.h')) {
  if (process.getuid?.() === 0 && spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0) {
    log('installing libgloo-dev with apt (headers of the data-parallel Gloo backend)');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const policy = execFileSync('apt-cache', ['policy', 'libgloo-dev'], { encoding: 'utf8', env });
    if (!/Candidate: (?!\(none\))/.test(policy)) run('apt-get', ['update', '-qq'], { env });
    run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'libgloo-dev'], { env });
    // The backend is chosen with __has_include, which build tools do not track: recompile its one file.
    const now = new Date();
    utimesSync(join(root, 'native', 'addon', 'process_group.cc'), now, now);
    rebuildForGloo = true;
  } else {
    console.warn('setup: gloo headers not found: the addon builds without data-parallel training on CPU. Install them: sudo apt-get install libgloo-dev');
  }
}

// 1b. A fast BLAS. Debian's libtorch links libblas.so.3, which apt may satisfy with the reference
//     (netlib) BLAS: 20x slower matrix products. OpenBLAS registers itself as the better alternative.
const blasLink = '/etc/alternatives/libblas.so.3-x86_64-linux-gnu';
if (existsSync(blasLink) && !realpathSync(blasLink).includes('openblas')) {
  if (process.getuid?.() === 0) {
    log('installing OpenBLAS (libtorch is using the slow reference BLAS)');
    run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'libopenblas0-pthread'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  } else {
    console.warn('setup: libtorch uses the reference BLAS (20x slower); install OpenBLAS: sudo apt-get install libopenblas0-pthread');
  }
}

// 2. npm packages (scripts skipped: our own install script would build before we are ready; sharp and
//    tokenizers ship prebuilt binaries)
const lockStamp = join('node_modules', '.package-lock.json');
if (!existsSync(join(root, lockStamp)) || mtime('package-lock.json') > mtime(lockStamp) || mtime('package.json') > mtime(lockStamp)) {
  log('installing npm packages');
  // npm install rather than npm ci: the registry mirror lacks some optional platform packages (rollup's),
  // which npm ci refuses while npm install skips them.
  run('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund']);
}

// 3. native addon
const addon = join('build', 'Release', 'torch_caption.node');
const nativeSources = Math.max(newest(['native'], (p) => /\.(cc|h|txt)$/.test(p)), mtime('CMakeLists.txt'));
if (mtime(addon) < nativeSources || rebuildForGloo) {
  log('building the native addon (first build: a few minutes)');
  run(process.execPath, [join(root, 'scripts', 'build-native.mjs')]);
}

// 4. TypeScript
const dist = join('dist', 'lib', 'index.js');
if (mtime(dist) < Math.max(newest(['lib'], (p) => p.endsWith('.ts')), mtime('tsconfig.json'))) {
  log('compiling TypeScript');
  run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json']);
}
log(`ready (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
