// `npm test`: everything CI checks, in order: lint, typecheck, build, unit and integration tests
// (vitest, real PostgreSQL/Redis/registry), the fault suite (services killed under the built
// apps), then the end-to-end tests (Playwright + Chromium).
// Services are found or started by the test setups themselves (see tooling/services).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = (name) => `${root}node_modules/.bin/${name}`;
const env = { ...process.env, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: '1', CHECKPOINT_DISABLE: '1', TURBO_TELEMETRY_DISABLED: '1', NEXT_TELEMETRY_DISABLED: '1' };

function step(label, command, args) {
  const started = Date.now();
  console.log(`\n== ${label}`);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env });
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  if (result.status !== 0) {
    console.error(`\n== ${label} FAILED after ${seconds}s`);
    process.exit(result.status ?? 1);
  }
  console.log(`== ${label} passed in ${seconds}s`);
}

if (!existsSync(bin('turbo'))) step('install dependencies', process.platform === 'win32' ? 'npm.cmd' : 'npm', ['install']);
step('lint, typecheck and build', bin('turbo'), ['run', 'lint', 'typecheck', 'build', '--output-logs=errors-only']);
step('unit and integration tests (vitest)', bin('vitest'), ['run']);
step('fault suite (Redis, PostgreSQL and the registry killed mid-rollout; real processes)', bin('vitest'), ['run', '--config', 'faults/vitest.config.ts']);
step('end-to-end tests (Playwright, Chromium)', bin('playwright'), ['test']);
console.log('\nAll checks passed.');
