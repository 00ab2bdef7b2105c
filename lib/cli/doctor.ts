/** `torch-caption doctor`: what is installed and what the addon sees. */
import type { Command } from 'commander';
import { doctor } from '../doctor.js';
import { printJson } from './common.js';

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('print Node, addon and libtorch versions, where libtorch is, threads and CUDA status')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const r = await doctor();
      if (opts.json) {
        printJson(r);
      } else {
        const lines = [`node            ${r.node}`, `torch-caption   ${r.package}`];
        if ('error' in r.addon) {
          lines.push(`addon           NOT LOADED`, '', r.addon.error);
        } else {
          const how = r.addon.kind === 'local' ? 'built locally' : `${r.addon.kind === 'prebuilt-cuda' ? 'CUDA' : 'CPU'} prebuild for ${r.addon.builtFor ?? 'an unrecorded libtorch'}`;
          lines.push(`addon           ${r.addon.path} (${how})`);
          lines.push(`libtorch        ${r.libtorch!.version} in ${r.libtorch!.dir} (C++11 ABI: ${r.libtorch!.cxx11Abi ? 'yes' : 'no'})`);
          const t = r.threads!;
          lines.push(`threads         torch intra-op ${t.intraOp}, inter-op ${t.interOp}, BLAS ${t.blas}; ${t.cpus} CPUs; OMP_NUM_THREADS=${t.OMP_NUM_THREADS ?? 'unset'} OPENBLAS_NUM_THREADS=${t.OPENBLAS_NUM_THREADS ?? 'unset'} OPENBLAS_CORETYPE=${t.OPENBLAS_CORETYPE ?? 'unset'}`);
          lines.push(`blas            ${r.blas}`);
          lines.push(`allocator       ${r.allocator}`);
          lines.push(`cpu bfloat16    ${r.cpuBf16}`);
          const c = r.cuda!;
          lines.push(`cuda            ${c.available ? `available, ${c.devices} device(s)` : c.compiled ? 'compiled in but no device visible' : 'not in this libtorch build (CPU only)'}`);
          lines.push(`distributed     ${r.distributedBackends?.length ? r.distributedBackends.join(", ") : "none (install libgloo-dev and rebuild for CPU data-parallel training)"}`);
        }
        process.stdout.write(lines.join('\n') + '\n');
      }
      if (!r.ok) process.exitCode = 1;
    });
}
