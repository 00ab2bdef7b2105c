// Builds the addon with cmake-js against the libtorch that scripts/find-torch.mjs locates, and says which.
// Concurrent builds in one checkout are serialized with flock on build/.lock.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findTorch } from './find-torch.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const torch = findTorch();
if (!torch) {
  console.error(
    'torch-caption: libtorch not found. Install it (`apt-get install libtorch-dev` on Debian/Ubuntu), or set ' +
      'LIBTORCH=/path/to/libtorch, or TORCH_CAPTION_TORCH=python to use the libtorch of an installed PyTorch.',
  );
  process.exit(1);
}
console.log(`torch-caption: building against libtorch from ${torch.source} (${torch.cmakeDir})`);
mkdirSync(join(root, 'build'), { recursive: true });
const jobs = process.env.CMAKE_BUILD_PARALLEL_LEVEL ?? String(Math.max(1, (await import('node:os')).availableParallelism()));
// Resolve the build tools from this package: when installed as a dependency they may be hoisted to the
// consumer's node_modules.
const require = createRequire(join(root, 'package.json'));
const cmakeJs = join(dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
const addonApi = dirname(require.resolve('node-addon-api/package.json'));
const args = [cmakeJs, 'build', '--directory', root, '--out', join(root, 'build'), '--parallel', jobs,
  `--CDCMAKE_PREFIX_PATH=${torch.cmakeDir}`, '--CDCMAKE_BUILD_TYPE=Release', `--CDNODE_ADDON_API_DIR=${addonApi}`];
const useFlock = spawnSync('flock', ['--version']).status === 0;
const cmd = useFlock ? 'flock' : process.execPath;
const argv = useFlock ? [join(root, 'build', '.lock'), process.execPath, ...args] : args;
const r = spawnSync(cmd, argv, { stdio: 'inherit', cwd: root });
process.exit(r.status ?? 1);
