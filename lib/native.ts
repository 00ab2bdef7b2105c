/**
 * Typed facade over the native addon. The addon is found with node-gyp-build (prebuilds/ first, then
 * build/Release); when it or libtorch cannot be loaded the error names the cause and the fix rather than
 * showing a raw dlopen message.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { NativeLoadError } from './errors.js';
import { packageRoot } from './paths.js';
import type { DType } from './tensor.js';

const require = createRequire(import.meta.url);

/** A tensor as it crosses the boundary: plain object, typed array data. */
export interface RawTensor {
  dtype: DType;
  shape: number[];
  data: Float32Array | BigInt64Array | Int32Array | Uint8Array;
}

export interface NativeBuildInfo {
  addonVersion: string;
  torchVersion: string;
  torchDir: string;
  cxx11Abi: boolean;
  cudaCompiled: boolean;
  cudaAvailable: boolean;
  cudaDeviceCount: number;
  cudaDeviceName: string | null;
  numThreads: number;
  numInteropThreads: number;
  parallelInfo: string;
}

export interface NativeModelHandle {
  forward(inputs: Record<string, RawTensor>, opts: Record<string, unknown>): Promise<Record<string, RawTensor | number>>;
  backward(inputs: Record<string, RawTensor>, opts: Record<string, unknown>): Promise<Record<string, RawTensor | number>>;
  trainStep(microBatches: Record<string, RawTensor>[], opts: Record<string, unknown>): Promise<{ loss: number; grad_norm: number; skipped: boolean }>;
  generate(pixelValues: RawTensor, opts: Record<string, unknown>): Promise<{ sequences: RawTensor; sequences_scores?: RawTensor }>;
  gradients(): Promise<Record<string, RawTensor>>;
  stateDict(): Promise<Record<string, RawTensor>>;
  loadStateDict(state: Record<string, RawTensor>, opts: Record<string, unknown>): Promise<{ missing: string[]; unexpected: string[] }>;
  loadSafetensors(path: string, opts: Record<string, unknown>): Promise<{ missing: string[]; unexpected: string[] }>;
  saveSafetensors(path: string, opts: Record<string, unknown>): Promise<void>;
  zeroGrad(): void;
  setTraining(on: boolean): void;
  to(device: string, dtype: string): Promise<void>;
  device(): string;
  parameterInfo(): { name: string; shape: number[]; dtype: string; requiresGrad: boolean; numel: number }[];
  numParameters(trainableOnly: boolean): number;
  initWeights(seed: number, opts: Record<string, unknown>): Promise<void>;
  sleepForTest(ms: number): Promise<number>;
  setGradients(grads: Record<string, RawTensor>): Promise<void>;
  setSpecialTokens(ids: { decoder_start_token_id?: number; pad_token_id?: number; eos_token_id?: number }): void;
}

export interface NativeOptimizerHandle {
  step(opts: Record<string, unknown>): Promise<void>;
  setLearningRate(lr: number): void;
  stateDict(): Promise<{ step: number; tensors: Record<string, RawTensor> }>;
  loadStateDict(state: { step: number; tensors: Record<string, RawTensor> }): Promise<void>;
  stepCount(): number;
}

export interface NativeAddon {
  /** Whether the caching CPU allocator is installed (libtorch 1.x, unless TORCH_CAPTION_MALLOC=default). */
  cachingAllocator: boolean;
  buildInfo(): NativeBuildInfo;
  setNumThreads(n: number): void;
  manualSeed(seed: number): void;
  Model: new (config: Record<string, unknown>, opts: Record<string, unknown>) => NativeModelHandle;
  AdamW: new (model: NativeModelHandle, opts: Record<string, unknown>) => NativeOptimizerHandle;
  readSafetensors(path: string, opts: Record<string, unknown>): Promise<{ tensors: Record<string, RawTensor>; metadata: Record<string, string> | null }>;
  readSafetensorsHeader(path: string): Promise<{ name: string; dtype: string; shape: number[]; offsets: [number, number] }[]>;
  writeSafetensors(path: string, tensors: Record<string, RawTensor>, metadata: Record<string, string> | null): Promise<void>;
  readTorchPickle(path: string): Promise<Record<string, RawTensor>>;
  /** Test hooks for the error and async contract. */
  testThrow(kind: 'c10' | 'std' | 'arg'): Promise<void>;
  testSleep(ms: number): Promise<number>;
  addTensors(a: RawTensor, b: RawTensor): Promise<RawTensor>;
}

export interface LoadedAddon {
  addon: NativeAddon;
  /** Which file was loaded and whether it came from prebuilds/ or a local build. */
  path: string;
  prebuilt: boolean;
}

let loaded: LoadedAddon | undefined;

/** Load the addon once; throw a NativeLoadError that says what to do when that fails. */
export function loadAddon(): LoadedAddon {
  if (loaded) return loaded;
  const root = packageRoot();
  let path: string;
  try {
    const nodeGypBuild = require('node-gyp-build') as { resolve(dir: string): string };
    path = nodeGypBuild.resolve(root);
  } catch (err) {
    throw new NativeLoadError(
      'The torch-caption native addon is not built and no prebuilt binary matches this platform ' +
        `(${process.platform}-${process.arch}, Node ${process.versions.node}).\n` +
        'Possible solutions:\n' +
        '- run `npm run setup` in the package folder (installs libtorch-dev with apt if needed, then builds)\n' +
        '- or install libtorch (`apt-get install libtorch-dev`, or set LIBTORCH=/path/to/libtorch, or ' +
        'TORCH_CAPTION_TORCH=python to use an installed PyTorch) and run `npm run build:native`',
      { cause: err },
    );
  }
  try {
    const addon = require(path) as NativeAddon;
    loaded = { addon, path, prebuilt: path.includes(`${join('prebuilds', '')}`) };
    return loaded;
  } catch (err) {
    throw new NativeLoadError(explainLoadFailure(path, err), { cause: err });
  }
}

/** Turn a dlopen failure into causes and fixes. */
function explainLoadFailure(path: string, err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const lines = [`Could not load the torch-caption addon ${path}.`];
  if (/lib(torch|c10)[^ ]*\.so/.test(msg)) {
    lines.push(
      'libtorch is missing or not where the addon was built against.',
      'Possible solutions:',
      '- Debian/Ubuntu: `apt-get install libtorch-dev` (the CPU build this package is tested with)',
      '- or set LIBTORCH=/path/to/libtorch (or TORCH_CAPTION_TORCH=python) and rebuild: `npm run build:native`',
    );
  } else if (/GLIBC|GLIBCXX|CXXABI/.test(msg)) {
    lines.push('The binary needs a newer C/C++ runtime than this system has.', 'Possible solutions:', '- rebuild from source: `npm run build:native`');
  } else if (/undefined symbol/.test(msg)) {
    lines.push('The addon and libtorch do not match (different version or C++ ABI).', 'Possible solutions:', '- rebuild against the libtorch you have: `npm run build:native`');
  } else if (!existsSync(path)) {
    lines.push('The file does not exist. Run `npm run build:native`.');
  }
  lines.push(`(loader said: ${msg.split('\n')[0]})`);
  return lines.join('\n');
}

/** The addon, loaded on first use. */
export function native(): NativeAddon {
  return loadAddon().addon;
}
