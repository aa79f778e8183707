import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export { migrationChecksum, scriptMatchesChecksum } from './checksum.ts';
export { readMigrations, type MigrationFile } from './files.ts';
export { migrate, migrationRecords, MigrationError, pendingMigrationNames, type MigrateOptions, type MigrateResult, type MigrationRecord } from './runner.ts';

/**
 * Where the migrations are: `CIDER_MIGRATIONS_DIR`, else the checkout's prisma/migrations when
 * running from source, else a `migrations` folder shipped beside a bundled app, else ./prisma/migrations.
 */
export function findMigrationsDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CIDER_MIGRATIONS_DIR) return env.CIDER_MIGRATIONS_DIR;
  const candidates = [
    fileURLToPath(new URL('../../../../prisma/migrations', import.meta.url)),
    fileURLToPath(new URL('./migrations', import.meta.url)),
    join(process.cwd(), 'prisma', 'migrations'),
  ];
  const found = candidates.find((dir) => existsSync(join(dir, 'migration_lock.toml')));
  if (!found) throw new Error(`No migrations folder found (looked in ${candidates.join(', ')}); set CIDER_MIGRATIONS_DIR`);
  return found;
}
