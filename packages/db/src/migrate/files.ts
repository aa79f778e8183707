import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { migrationChecksum } from './checksum.ts';

export interface MigrationFile {
  /** Folder name, e.g. `20261123000000_init`; also the `migration_name` recorded. */
  name: string;
  script: string;
  checksum: string;
}

/**
 * Reads `prisma/migrations` in Prisma's layout: one folder per migration holding
 * `migration.sql`, applied in folder-name order, plus `migration_lock.toml` naming the provider.
 */
export async function readMigrations(dir: string): Promise<MigrationFile[]> {
  const lock = await readFile(join(dir, 'migration_lock.toml'), 'utf8').catch(() => undefined);
  if (lock !== undefined && !/provider\s*=\s*"postgresql"/.test(lock)) {
    throw new Error(`${join(dir, 'migration_lock.toml')} names another provider than postgresql`);
  }
  const entries = await readdir(dir, { withFileTypes: true });
  const folders = entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
  const migrations: MigrationFile[] = [];
  for (const name of folders) {
    const bytes = await readFile(join(dir, name, 'migration.sql')).catch(() => undefined);
    if (bytes === undefined) throw new Error(`Migration folder ${name} has no migration.sql`);
    migrations.push({ name, script: bytes.toString('utf8'), checksum: migrationChecksum(bytes) });
  }
  return migrations;
}
