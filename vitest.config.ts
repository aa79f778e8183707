import { defineConfig } from 'vitest/config';
import { projectTestOptions } from './vitest.shared.ts';

// One run over every workspace. The global setup finds or starts PostgreSQL and Redis, migrates
// a template database once, and starts a throwaway registry; each test file then clones its own
// database and takes its own Redis key prefix (see @cider/services).
export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*', 'tooling/*'],
    globalSetup: ['./vitest.global-setup.ts'],
    ...projectTestOptions,
    teardownTimeout: 30_000,
    // Two files at a time on CI's 2 cores (vitest's default there is one). Most files wait on real
    // processes, registries and databases rather than compute, and each has its own database clone,
    // Redis prefix and repositories, so they run side by side safely: 436 s instead of 637 s.
    maxWorkers: 2,
  },
});
