/**
 * The import graph of lib/, checked in CI by `npm run check:imports` (docs/architecture.md, "Layers and imports").
 *
 * Layers, bottom to top; a module may import its own layer and the layers below it, never one above
 * (processing, metrics and models form one tier: processing < models, and metrics imports none of the two):
 *
 *   base        lib/errors.ts, lib/paths.ts, lib/tensor.ts, lib/types.ts, lib/json.ts
 *   native      lib/native.ts, lib/native-binary.ts (the addon and which binary to load)
 *   processing  lib/processing/   image processor, tokenizer, labels
 *   metrics     lib/metrics/      pure TypeScript: nothing of processing or models, no native code at all
 *   models      lib/models/       may import processing (processing < models), never metrics
 *   data        lib/data/
 *   optim       lib/optim/
 *   train       lib/train/
 *   app         lib/pipeline.ts, lib/doctor.ts, lib/serve/ (inference entry points; no train or optim)
 *   cli         lib/cli/
 *   index       lib/index.ts (the public API)
 *
 * Type-only imports count (tsPreCompilationDeps): a type import is an edge like any other.
 */
const layers = [
  { name: 'base', path: '^lib/(errors|paths|tensor|types|json)\\.ts$' },
  { name: 'native', path: '^lib/native(-binary)?\\.ts$' },
  { name: 'processing', path: '^lib/processing/' },
  { name: 'metrics', path: '^lib/metrics/' },
  { name: 'models', path: '^lib/models/' },
  { name: 'data', path: '^lib/data/' },
  { name: 'optim', path: '^lib/optim/' },
  { name: 'train', path: '^lib/train/' },
  { name: 'app', path: '^lib/(pipeline\\.ts|doctor\\.ts|serve(/|\\.ts$))' },
  { name: 'cli', path: '^lib/cli/' },
  { name: 'index', path: '^lib/index\\.ts$' },
];

/** One rule per layer: nothing from a layer above it. */
const upward = layers.slice(0, -1).map((layer, i) => ({
  name: `layer-${layer.name}`,
  comment: `lib/ layer '${layer.name}' imports from a layer above it (${layers.slice(i + 1).map((l) => l.name).join(', ')}); see .dependency-cruiser.cjs for the order`,
  severity: 'error',
  from: { path: layer.path },
  to: { path: layers.slice(i + 1).map((l) => l.path) },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'lib/ modules must not import each other in a circle (move the shared part into a module both import)',
      severity: 'error',
      from: { path: '^lib/' },
      to: { circular: true },
    },
    ...upward,
    // processing, metrics and models: processing < models (the upward rules); metrics stands beside both.
    {
      name: 'metrics-independent',
      comment: 'lib/metrics imports only the base layer: nothing of lib/processing (lib/models and lib/native.ts are checked by layer-metrics and metrics-pure-ts)',
      severity: 'error',
      from: { path: '^lib/metrics/' },
      to: { path: '^lib/processing/' },
    },
    {
      name: 'models-not-metrics',
      comment: 'lib/models does not import lib/metrics (metrics sits beside processing and models, not below models)',
      severity: 'error',
      from: { path: '^lib/models/' },
      to: { path: '^lib/metrics/' },
    },
    {
      name: 'metrics-pure-ts',
      comment: 'lib/metrics is pure TypeScript: it must not reach lib/native.ts, directly or through another module',
      severity: 'error',
      from: { path: '^lib/metrics/' },
      to: { path: '^lib/native\\.ts$', reachable: true },
    },
    {
      name: 'metrics-no-native-packages',
      comment: 'lib/metrics is pure TypeScript: no npm package with native code (sharp, tokenizers, the addon loaders)',
      severity: 'error',
      from: { path: '^lib/metrics/' },
      to: { path: ['(^|/)node_modules/(sharp|tokenizers|node-gyp-build|node-addon-api|@img)/', '\\.node$'] },
    },
    {
      name: 'inference-without-training',
      comment: 'the inference entry points (pipeline, serve) must not load lib/train or lib/optim',
      severity: 'error',
      from: { path: '^lib/(pipeline\\.ts|serve(/|\\.ts$))' },
      to: { path: '^lib/(train|optim)/' },
    },
    {
      name: 'unlayered-module',
      comment: 'every lib/ module belongs to a layer: add new top-level files and folders to the layers in .dependency-cruiser.cjs',
      severity: 'error',
      from: { path: '^lib/', pathNot: layers.map((l) => l.path) },
      to: {},
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^lib/metrics/wordnet/' },
  },
};
