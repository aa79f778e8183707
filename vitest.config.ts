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
  },
});
