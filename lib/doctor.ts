/** Environment report for `torch-caption doctor`: versions, where libtorch is, threads, CUDA. */
import { loadAddon } from './native.js';
import { packageRoot } from './paths.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface DoctorReport {
  node: string;
  package: string;
  /** kind: a local build, or the CPU or CUDA prebuild; builtFor: the prebuild's libtorch (its sidecar). */
  addon: { path: string; prebuilt: boolean; kind: string; builtFor: string | null; version: string } | { error: string };
  libtorch?: { version: string; dir: string; cxx11Abi: boolean };
  threads?: { intraOp: number; interOp: number; blas: number; cpus: number; OMP_NUM_THREADS: string | null; OPENBLAS_NUM_THREADS: string | null; OPENBLAS_CORETYPE: string | null };
  cuda?: { compiled: boolean; available: boolean; devices: number };
  /** The c10d backends of this build, for data-parallel training (gloo: CPU, nccl: CUDA). */
  distributedBackends?: string[];
  /** The BLAS library libtorch's matrix products run on (from the process's loaded libraries). */
  blas?: string;
  /** Memory: the addon's caching CPU allocator and glibc tuning (off with TORCH_CAPTION_MALLOC=default). */
  allocator?: string;
  /** Whether this CPU has bfloat16 instructions, i.e. whether `bf16: true` can make CPU training faster. */
  cpuBf16?: string;
  ok: boolean;
}

export async function doctor(): Promise<DoctorReport> {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
  const base = { node: process.versions.node, package: pkg.version };
  let loaded;
  try {
    loaded = loadAddon();
  } catch (err) {
    return { ...base, addon: { error: (err as Error).message }, ok: false };
  }
  const info = loaded.addon.buildInfo();
  const os = await import('node:os');
  return {
    ...base,
    addon: {
      path: loaded.path, prebuilt: loaded.prebuilt, kind: loaded.kind, version: info.addonVersion,
      builtFor: loaded.prebuild ? `libtorch ${loaded.prebuild.libtorch}${loaded.prebuild.cuda ? ' + CUDA' : ''}, C++11 ABI ${loaded.prebuild.cxx11Abi ? 'on' : 'off'}` : null,
    },
    libtorch: { version: info.torchVersion, dir: info.torchDir, cxx11Abi: info.cxx11Abi },
    threads: {
      intraOp: info.numThreads, interOp: info.numInteropThreads, blas: info.blasThreads, cpus: os.availableParallelism(),
      OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? null, OPENBLAS_NUM_THREADS: process.env.OPENBLAS_NUM_THREADS ?? null,
      OPENBLAS_CORETYPE: process.env.OPENBLAS_CORETYPE ?? null,
    },
    cuda: { compiled: info.cudaCompiled, available: info.cudaAvailable, devices: info.cudaDeviceCount },
    distributedBackends: info.distributedBackends,
    blas: loadedBlas(),
    cpuBf16: cpuBf16(),
    allocator: loaded.addon.cachingAllocator ? 'caching (large blocks reused)' : process.env.TORCH_CAPTION_MALLOC === 'default' ? 'libtorch default (TORCH_CAPTION_MALLOC=default)' : 'libtorch default',
    ok: true,
  };
}

/** Which BLAS is mapped into this process (Linux): OpenBLAS, MKL, or the slow reference BLAS. */
function loadedBlas(): string {
  try {
    const maps = readFileSync('/proc/self/maps', 'utf8');
    const libs = [...new Set(maps.split('\n').map((l) => l.split(/\s+/)[5] ?? '').filter((p) => /blas|mkl/i.test(p)))];
    if (libs.some((l) => /openblas/i.test(l))) return 'OpenBLAS';
    if (libs.some((l) => /mkl/i.test(l))) return 'MKL';
    if (libs.length) return `reference BLAS (${libs[0]}): slow, install OpenBLAS (apt-get install libopenblas0-pthread)`;
    return 'none found';
  } catch {
    return 'unknown';
  }
}

/** bfloat16 support from /proc/cpuinfo (Linux): native instructions make CPU bf16 autocast pay off. */
function cpuBf16(): string {
  try {
    const flags = new Set((/^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '').trim().split(/\s+/));
    const native = ['amx_bf16', 'avx512_bf16'].filter((f) => flags.has(f));
    if (native.length) return `native (${native.join(', ')}): bf16 = true can speed up CPU training`;
    return 'emulated: bf16 = true on CPU checks a recipe but trains slower than float32';
  } catch {
    return 'unknown';
  }
}
