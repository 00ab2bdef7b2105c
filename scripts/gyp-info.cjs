// Feeds binding.gyp from the same places the cmake build uses: the source list in native/sources.txt and
// the libtorch that scripts/find-torch.mjs locates. Usage: node scripts/gyp-info.cjs sources|include|libdir
const { readFileSync, existsSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const what = process.argv[2];
if (what === 'sources') {
  const list = readFileSync(join(root, 'native', 'sources.txt'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  console.log(list.join(' '));
} else {
  // Same order as find-torch.mjs (kept in CommonJS here because gyp runs it synchronously).
  let prefix = process.env.LIBTORCH;
  if (!prefix && process.env.TORCH_CAPTION_TORCH === 'python') {
    const cmake = require('node:child_process').execFileSync('python3', ['-c', 'import torch;print(torch.utils.cmake_prefix_path)'], { encoding: 'utf8' }).trim();
    prefix = join(cmake, '..', '..');
  }
  if (!prefix) prefix = existsSync('/usr/include/torch') ? '/usr' : '';
  if (what === 'include') console.log([join(prefix, 'include'), join(prefix, 'include', 'torch', 'csrc', 'api', 'include')].join(' '));
  else if (what === 'libdir') console.log(prefix === '/usr' ? '/usr/lib/x86_64-linux-gnu' : join(prefix, 'lib'));
}
