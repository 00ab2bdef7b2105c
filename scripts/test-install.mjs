#!/usr/bin/env node
// CI check of the release path (.ci/run calls it after npm test): pack the package, install the tarball
// into a fresh project with the compilers hidden from PATH, and check that the prebuilt addon loads
// (doctor) and captions a fixture image through pipeline(). Then check that a prebuild for a libtorch this
// machine does not have fails with a message naming both versions and the fix. Prints the install time and
// the tarball size.
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const fixtures = resolve(process.env.TORCH_CAPTION_FIXTURES ?? join(root, '..', 'shared', 'fixtures'));
const work = mkdtempSync(join(tmpdir(), 'tc-install-'));
const fail = (msg) => {
  console.error(`test-install: FAILED: ${msg}`);
  process.exit(1);
};
const run = (cmd, args, opts = {}) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.status !== 0 && !opts.allowFail) fail(`${cmd} ${args.join(' ')} exited ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r;
};

try {
  // 1. The release tarball, as `npm pack` makes it (prepack builds the prebuild when stale; postpack checks it).
  const pack = run('npm', ['pack', '--json', '--pack-destination', work], { cwd: root });
  // stdout carries the prepack logs first; npm's JSON report is the last top-level array.
  const starts = [...pack.stdout.matchAll(/^\[/gm)].map((m) => m.index).reverse();
  const packReport = starts.map((i) => { try { return JSON.parse(pack.stdout.slice(i)); } catch { return null; } }).find((r) => r !== null);
  if (!packReport) fail(`npm pack printed no JSON report:\n${pack.stdout}`);
  const meta = packReport[0];
  const tgz = join(work, meta.filename);
  console.log(`test-install: ${meta.filename} ${(meta.size / 1e6).toFixed(2)} MB packed, ${meta.entryCount} files`);

  // 2. A consumer project on a machine without a compiler: g++, c++, cc, gcc, make, cmake answer "not found".
  const shims = join(work, 'no-compilers');
  mkdirSync(shims);
  for (const tool of ['g++', 'c++', 'cc', 'gcc', 'make', 'cmake', 'ninja']) {
    writeFileSync(join(shims, tool), `#!/bin/sh\necho "${tool}: hidden by test-install" >&2\nexit 127\n`);
    chmodSync(join(shims, tool), 0o755);
  }
  const project = join(work, 'project');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }));
  const env = { ...process.env, PATH: `${shims}:${process.env.PATH}`, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
  delete env.CI; // a user's machine
  const t0 = Date.now();
  run('npm', ['install', tgz, '--prefer-offline', '--no-audit', '--no-fund'], { cwd: project, env });
  const installSeconds = (Date.now() - t0) / 1000;
  console.log(`test-install: npm install of the tarball took ${installSeconds.toFixed(1)} s (compilers hidden)`);

  // 3. The prebuilt addon loads and reports itself.
  const doctor = run('npx', ['torch-caption', 'doctor', '--json'], { cwd: project, env });
  const report = JSON.parse(doctor.stdout.trim().split('\n').pop());
  if (!report.ok || !report.addon.prebuilt) fail(`doctor did not report a loaded prebuilt addon: ${doctor.stdout}`);
  console.log(`test-install: doctor: ${report.addon.kind} ${report.addon.path.replace(project, '.')} (libtorch ${report.libtorch.version})`);

  // 4. It captions: the same text as the checkout's own build gives.
  const model = join(fixtures, 'models', 'vit-gpt2-tiny');
  const image = readdirSync(join(fixtures, 'images')).find((f) => /\.(jpe?g|png)$/i.test(f));
  if (!existsSync(model) || !image) fail(`fixtures not found under ${fixtures}`);
  const script = (from) => `const { pipeline } = await import(${JSON.stringify(from)}); const c = await pipeline('image-to-text', ${JSON.stringify(model)}); const [out] = await c(${JSON.stringify(join(fixtures, 'images', image))}); console.log(JSON.stringify(out));`;
  const installed = run(process.execPath, ['--input-type=module', '-e', script('@acme/torch-caption')], { cwd: project, env });
  const local = run(process.execPath, ['--input-type=module', '-e', script(join(root, 'dist', 'lib', 'index.js'))], { cwd: root });
  const a = installed.stdout.trim().split('\n').pop();
  const b = local.stdout.trim().split('\n').pop();
  if (a !== b) fail(`the installed package captions ${a}, the checkout ${b}`);
  console.log(`test-install: pipeline on ${image}: ${a}`);

  // 5. A prebuild for another libtorch: the loader names both versions and the fix. The fake is a shared
  //    object that needs libtorch_cpu.so.9.9, linked against a stand-in that is then removed.
  const pkgDir = join(project, 'node_modules', '@acme', 'torch-caption');
  const preDir = join(pkgDir, 'prebuilds', `${process.platform}-${process.arch}`);
  const cpu = join(preDir, 'torch-caption.napi.glibc.cpu');
  const fake = join(work, 'fake');
  mkdirSync(fake);
  writeFileSync(join(fake, 'stub.c'), 'int torch_stub(void) { return 0; }\n');
  writeFileSync(join(fake, 'addon.c'), 'int torch_stub(void); int tc_fake(void) { return torch_stub(); }\n');
  run('cc', ['-shared', '-fPIC', '-o', join(fake, 'libtorch_cpu.so.9.9'), '-Wl,-soname,libtorch_cpu.so.9.9', join(fake, 'stub.c')]);
  run('cc', ['-shared', '-fPIC', '-o', join(fake, 'fake.node'), join(fake, 'addon.c'), join(fake, 'libtorch_cpu.so.9.9')]);
  renameSync(`${cpu}.node`, `${cpu}.node.real`);
  cpSync(join(fake, 'fake.node'), `${cpu}.node`);
  cpSync(`${cpu}.json`, `${cpu}.json.real`);
  writeFileSync(`${cpu}.json`, JSON.stringify({ libtorch: '9.9.0', cxx11Abi: true, cuda: false, torchDir: '/opt/libtorch-9.9', napi: 8 }));
  const broken = run(process.execPath, ['--input-type=module', '-e', "const m = await import('@acme/torch-caption'); await m.VisionEncoderDecoder.fromConfig(m.tinyConfig());"], { cwd: project, env, allowFail: true });
  renameSync(`${cpu}.node.real`, `${cpu}.node`);
  renameSync(`${cpu}.json.real`, `${cpu}.json`);
  const msg = broken.stderr;
  for (const want of [/NativeLoadError/, /built for libtorch 9\.9\.0/, /This machine has libtorch \d+\.\d+/, /--build-from-source/, /install the libtorch the prebuild was made for \(libtorch 9\.9\.0\)/]) {
    if (!want.test(msg)) fail(`the load error for a mismatched prebuild lacks ${want}:\n${msg}`);
  }
  if (/^Error: .*cannot open shared object file/m.test(msg.split('\n')[0])) fail(`raw dlopen error shown:\n${msg}`);
  console.log('test-install: a prebuild for libtorch 9.9.0 fails with both versions and the fix named:');
  console.log(msg.split('\n').filter((l) => !/^\s+at /.test(l)).slice(0, 12).map((l) => `  | ${l}`).join('\n'));
  console.log(`test-install: ok (install ${installSeconds.toFixed(1)} s, tarball ${(meta.size / 1e6).toFixed(2)} MB)`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
