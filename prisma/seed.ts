// `prisma db seed` / `npm run db:seed`: the seed data of tooling/dev/src/seed.ts for the
// database in DATABASE_URL and the registry in REGISTRY_URL.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServiceDeps } from '@cider/api';
import { seed } from '@cider/dev/seed';

const { DATABASE_URL, REDIS_URL, CIDER_SECRET_KEY, REGISTRY_URL, CIDER_ADMIN_EMAIL, CIDER_ADMIN_PASSWORD } = process.env;
if (!DATABASE_URL || !CIDER_SECRET_KEY || !REGISTRY_URL || !CIDER_ADMIN_PASSWORD) {
  console.error('Set DATABASE_URL, CIDER_SECRET_KEY, REGISTRY_URL and CIDER_ADMIN_PASSWORD (REDIS_URL and CIDER_ADMIN_EMAIL are optional).');
  process.exit(2);
}
const services = createServiceDeps({
  databaseUrl: DATABASE_URL,
  redisUrl: REDIS_URL ?? 'redis://127.0.0.1:6379',
  redisPrefix: process.env.CIDER_REDIS_PREFIX ?? 'cider',
  secretKey: CIDER_SECRET_KEY,
});
const workDir = await mkdtemp(join(tmpdir(), 'cider-seed-'));
try {
  const result = await seed({
    deps: services.deps,
    registryHost: new URL(REGISTRY_URL).host,
    adminEmail: CIDER_ADMIN_EMAIL ?? 'admin@cider.local',
    adminPassword: CIDER_ADMIN_PASSWORD,
    workDir,
    log: (line) => console.log(line),
  });
  console.log(`demo image: ${result.demoReference} (${result.demoDigest})`);
  console.log(`enrollment token for agents (24 h, 10 uses): ${result.enrollmentToken}`);
} finally {
  await services.close();
  await rm(workDir, { recursive: true, force: true });
}
