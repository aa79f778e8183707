// Runs once per `vitest run`: finds or starts PostgreSQL and Redis, migrates the template
// database, and starts a throwaway registry. Test files get the URLs through `inject()`.
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { ensurePostgres, ensureRedis, startRegistry } from '@cider/services';
import { findMigrationsDir } from '@cider/db/migrate';
import { dropStaleTestDatabases, ensureTemplateDatabase } from '@cider/db/testing';
// Declares the values provided below (ProvidedContext).
import type {} from '@cider/services/testing';

export default async function setup(project: TestProject) {
  const log = (line: string) => console.log(`[test setup] ${line}`);
  const postgres = await ensurePostgres({
    url: process.env.TEST_DATABASE_URL,
    embeddedDir: join(process.cwd(), '.cider', 'test-postgres'),
    log,
  });
  const redis = await ensureRedis({ url: process.env.TEST_REDIS_URL, log });
  await dropStaleTestDatabases(postgres.adminUrl);
  const template = await ensureTemplateDatabase(postgres.adminUrl, findMigrationsDir());
  const registry = await startRegistry();

  project.provide('postgresAdminUrl', postgres.adminUrl);
  project.provide('databaseTemplate', template);
  project.provide('redisUrl', redis.url);
  project.provide('registryUrl', registry.url);
  project.provide('registryHost', registry.host);

  return async () => {
    await registry.stop();
    await redis.stop();
    await postgres.stop();
  };
}
