#!/usr/bin/env node
// CLI entry: the compiled TypeScript lives in dist/ (built by `npm run build:ts`, run by setup).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/lib/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  console.error('torch-caption: the package is not built yet. Run `npm run setup` (or `npm run build`) in its folder.');
  process.exit(1);
}
const { run } = await import(main.href);
process.exitCode = await run(process.argv);
