// Starts the whole system for the end-to-end tests: a fresh database on the test PostgreSQL,
// its own Redis prefix, a fresh registry, free ports. Returns the teardown.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePostgres, freePort, withDatabase } from '@cider/services';
import { startStack } from '@cider/dev/stack';
import pg from 'pg';
import { stackInfoPath, type StackInfo } from './stack-info.ts';

export default async function globalSetup() {
  const root = process.cwd();
  const dataDir = await mkdtemp(join(tmpdir(), 'cider-e2e-'));
  const postgres = await ensurePostgres({ url: process.env.TEST_DATABASE_URL, embeddedDir: join(root, '.cider', 'test-postgres') });
  const databaseName = `cider_e2e_${process.pid}_${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: postgres.adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${databaseName}"`);
  await admin.end();

  const lines: string[] = [];
  const stack = await startStack({
    root,
    dataDir,
    databaseUrl: withDatabase(postgres.adminUrl, databaseName),
    redisUrl: process.env.TEST_REDIS_URL,
    redisPrefix: `e2e${process.pid}`,
    webPort: await freePort(),
    controlPort: await freePort(),
    registryPort: await freePort(),
    adminEmail: 'admin@cider.test',
    adminPassword: 'e2e-admin-password',
    // "Publish from Apple" lists and downloads from a stand-in on loopback, slow enough (3 MiB/s
    // for 36 MiB) that the task's progress bar is seen moving.
    appleMirror: { version: '15.3', build: '24D60', payloadBytes: 36 * 1024 * 1024, bytesPerSecond: 3 * 1024 * 1024 },
    bundleDir: join(dataDir, 'bundles'),
    log: (line) => lines.push(`[stack] ${line}`),
    onOutput: (name, line) => lines.push(`[${name}] ${line}`),
  });
  const info: StackInfo = {
    webUrl: stack.webUrl,
    controlUrl: stack.controlUrl,
    adminEmail: stack.adminEmail,
    adminPassword: stack.adminPassword,
    registryHost: stack.registryHost,
    demoReference: stack.seed.demoReference,
    demoDigest: stack.seed.demoDigest,
    nodes: stack.nodes,
    appleMirror: stack.appleMirror ? { version: stack.appleMirror.version, build: stack.appleMirror.build } : undefined,
    bundleDir: join(dataDir, 'bundles'),
  };
  await mkdir(join(root, 'test-results'), { recursive: true });
  await writeFile(stackInfoPath, JSON.stringify(info, null, 2));

  return async () => {
    await stack.stop();
    await writeFile(join(root, 'test-results', 'stack.log'), lines.join('\n'));
    const cleanup = new pg.Client({ connectionString: postgres.adminUrl });
    await cleanup.connect();
    await cleanup.query(`DROP DATABASE IF EXISTS "${databaseName}" WITH (FORCE)`);
    await cleanup.end();
    await postgres.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
}
