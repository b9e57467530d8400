import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    setupFiles: ['test/child-env.setup.ts'],
    // The heaviest tests (512 MiB kills, S3 faults) take 5-12 s here; a CI machine several times slower must not
    // fail them on time alone. A hung child is killed by the CLI helper's own 120 s limit.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
