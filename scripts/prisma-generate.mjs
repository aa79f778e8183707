// Runs `prisma generate` without letting the Prisma CLI fetch its schema engine: generation
// does not use it, but the CLI resolves it on start. Air-gapped sites have no download either.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = `${root}node_modules/prisma/build/index.js`;
if (!existsSync(cli)) {
  console.log('prisma CLI not installed yet; skipping client generation');
  process.exit(0);
}
const env = {
  ...process.env,
  CHECKPOINT_DISABLE: '1',
  PRISMA_HIDE_UPDATE_MESSAGE: '1',
  PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? process.execPath,
  // prisma generate only parses the schema; it never connects.
  DATABASE_URL: process.env.DATABASE_URL ?? 'postgresql://localhost/unused',
};
const result = spawnSync(process.execPath, [cli, 'generate'], { cwd: root, env, stdio: 'inherit' });
process.exit(result.status ?? 1);
