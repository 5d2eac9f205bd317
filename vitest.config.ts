import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests start real servers (Redis, replay, services); give them room.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Tests share one machine's CPUs and ports: run files one at a time for stable results.
    fileParallelism: false,
  },
});
