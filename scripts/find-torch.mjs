// Locates libtorch, in this order: LIBTORCH (a libtorch folder), TORCH_CAPTION_TORCH=python (the libtorch
// inside an installed PyTorch), then the system (Debian's libtorch-dev). Prints JSON with --json.
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const SYSTEM_DIRS = ['/usr/lib/x86_64-linux-gnu/cmake/Torch', '/usr/lib/aarch64-linux-gnu/cmake/Torch', '/usr/share/cmake/Torch', '/usr/local/share/cmake/Torch'];

/** @returns {{source: string, prefix: string, cmakeDir: string} | null} */
export function findTorch(env = process.env) {
  if (env.LIBTORCH) {
    const cmakeDir = join(env.LIBTORCH, 'share', 'cmake', 'Torch');
    if (!existsSync(join(cmakeDir, 'TorchConfig.cmake'))) {
      throw new Error(`LIBTORCH=${env.LIBTORCH} does not look like a libtorch folder (no share/cmake/Torch/TorchConfig.cmake)`);
    }
    return { source: 'LIBTORCH', prefix: env.LIBTORCH, cmakeDir };
  }
  if (env.TORCH_CAPTION_TORCH === 'python') {
    let prefix;
    try {
      prefix = execFileSync(env.PYTHON ?? 'python3', ['-c', 'import torch;print(torch.utils.cmake_prefix_path)'], { encoding: 'utf8' }).trim();
    } catch (err) {
      throw new Error('TORCH_CAPTION_TORCH=python but `python3 -c "import torch"` failed: install PyTorch or unset it');
    }
    return { source: 'python', prefix, cmakeDir: join(prefix, 'Torch') };
  }
  for (const dir of SYSTEM_DIRS) {
    if (existsSync(join(dir, 'TorchConfig.cmake'))) return { source: 'system', prefix: dir.replace(/\/cmake\/Torch$/, ''), cmakeDir: dir };
  }
  return null;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const t = findTorch();
  if (process.argv.includes('--json')) console.log(JSON.stringify(t));
  else console.log(t ? `${t.source}: ${t.cmakeDir}` : 'libtorch not found');
  process.exit(t ? 0 : 1);
}
