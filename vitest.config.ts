import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'web/src/**/*.test.ts'],
    // Each test file gets its own database; PGlite start-up and migrations take a few seconds.
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
