import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The slowest files, slowest first (measured on the 2-core development machine). Three
 * files run at a time; starting the long ones first keeps one of them from running
 * alone at the end. The other files follow in Vitest's own order (by its cached
 * timings when it has them; a fresh clone has none).
 */
const SLOWEST_FIRST = [
  'test/compose-stack.test.ts',
  'test/monitoring-e2e.test.ts',
  'test/term-index.test.ts',
  'test/pipeline-e2e.test.ts',
  'test/writer-recovery.test.ts',
  'test/deploy-backup-retention.test.ts',
  'test/deploy-ssh.test.ts',
  'test/api.test.ts',
  'test/backup-runbook.test.ts',
  'test/loadtest-pipeline.test.ts',
  'test/loadtest-api.test.ts',
  'test/hostile.test.ts',
  'test/deploy-backup.test.ts',
];

class SlowestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (file: TestSpecification) => {
      const index = SLOWEST_FIRST.findIndex((slow) => file.moduleId.endsWith(slow));
      return index === -1 ? SLOWEST_FIRST.length : index;
    };
    const byCache = await super.sort(files);
    return byCache.sort((a, b) => rank(a) - rank(b));
  }
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests start real servers (Redis, replay, services); give them room.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Three files at a time on a 2-core machine: the two slowest files (monitoring-e2e,
    // compose-stack) spend their first minute and a half waiting on Prometheus'
    // production intervals and on containers, using a quarter of the CPU; a third slot
    // runs the CPU-heavy term-index beside them. Every test owns its ports, Redis
    // prefix and files.
    maxWorkers: 3,
    sequence: { sequencer: SlowestFirst },
  },
});
