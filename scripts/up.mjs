// `npm run up`: works on a fresh clone. Installs dependencies when missing, builds what changed
// (turbo caches the rest), then starts the stack (tooling/dev/src/up.ts) until Ctrl-C.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function run(command, args, label) {
  console.log(`[up] ${label}`);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env: { ...process.env, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: '1', TURBO_TELEMETRY_DISABLED: '1', NEXT_TELEMETRY_DISABLED: '1' } });
  if (result.status !== 0) {
    console.error(`[up] ${label} failed`);
    process.exit(result.status ?? 1);
  }
}

if (!existsSync(`${root}node_modules/.bin/turbo`)) run(npm, ['install'], 'installing dependencies (first run)');
run(`${root}node_modules/.bin/turbo`, ['run', 'build', '--output-logs=errors-only'], 'building');
const up = spawn(`${root}node_modules/.bin/tsx`, ['tooling/dev/src/up.ts'], { cwd: root, stdio: 'inherit' });
// Ctrl-C reaches the whole process group; the stack shuts itself down, and we wait for it.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => up.kill('SIGTERM'));
up.on('exit', (code) => process.exit(code ?? 0));
