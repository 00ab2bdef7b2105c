// TEMPORARY: runs test/data against test/data/stub/processing.ts until lib/processing exists.
import { defineConfig } from 'vitest/config';
import path from 'node:path';
export default defineConfig({
  resolve: { alias: [{ find: /^\.\.\/processing\/index\.js$/, replacement: path.resolve(__dirname, 'processing.ts') }] },
  test: { include: ['test/data/**/*.test.ts'], root: path.resolve(__dirname, '../../..'), testTimeout: 60_000, pool: 'forks' },
});
