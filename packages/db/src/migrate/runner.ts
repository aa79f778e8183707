import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { scriptMatchesChecksum } from './checksum.ts';
import { readMigrations, type MigrationFile } from './files.ts';
import { redactDatabaseUrl } from '../wait.ts';

/** The advisory lock key Prisma's schema engine takes on PostgreSQL, so our runner and theirs exclude each other. */
const prismaAdvisoryLock = 72707369;

/** `_prisma_migrations` as Prisma's schema engine creates it on PostgreSQL. */
const createMigrationsTable = `CREATE TABLE "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

export interface MigrationRecord {
  id: string;
  migrationName: string;
  checksum: string;
  startedAt: Date;
  finishedAt: Date | null;
  rolledBackAt: Date | null;
  logs: string | null;
  appliedStepsCount: number;
}

export class MigrationError extends Error {
  override name = 'MigrationError';
}

export interface MigrateOptions {
  url: string;
  migrationsDir: string;
  log?: (line: string) => void;
}

export interface MigrateResult {
  applied: string[];
  alreadyApplied: string[];
}

async function withClient<T>(url: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

async function tableExists(client: pg.Client): Promise<boolean> {
  const { rows } = await client.query<{ exists: boolean }>(
    `SELECT to_regclass('"_prisma_migrations"') IS NOT NULL AS exists`,
  );
  return rows[0]?.exists === true;
}

async function userTables(client: pg.Client): Promise<string[]> {
  const { rows } = await client.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables
     WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`,
  );
  return rows.map((r) => r.table_name);
}

async function listRecords(client: pg.Client): Promise<MigrationRecord[]> {
  const { rows } = await client.query(
    `SELECT id, migration_name, checksum, started_at, finished_at, rolled_back_at, logs, applied_steps_count
     FROM "_prisma_migrations" ORDER BY started_at ASC`,
  );
  return rows.map((r) => ({
    id: r.id,
    migrationName: r.migration_name,
    checksum: r.checksum,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    rolledBackAt: r.rolled_back_at,
    logs: r.logs,
    appliedStepsCount: r.applied_steps_count,
  }));
}

/** Lists what the database recorded, or an empty list if it was never migrated. */
export async function migrationRecords(url: string): Promise<MigrationRecord[]> {
  return withClient(url, async (client) => ((await tableExists(client)) ? listRecords(client) : []));
}

function pendingMigrations(files: MigrationFile[], records: MigrationRecord[], log: (line: string) => void): MigrationFile[] {
  const failed = records.filter((r) => r.finishedAt === null && r.rolledBackAt === null);
  if (failed.length > 0) {
    const list = failed.map((r) => `  ${r.migrationName} (started ${r.startedAt.toISOString()}): ${r.logs ?? 'no logs'}`);
    throw new MigrationError(
      `Found failed migrations in the target database; new migrations will not be applied until they are resolved:\n${list.join('\n')}\n` +
        'Fix the database by hand, then mark the migration rolled back (UPDATE "_prisma_migrations" SET rolled_back_at = now() WHERE id = ...) ' +
        'or run `prisma migrate resolve` where the Prisma engine is available.',
    );
  }
  const finished = new Map(records.filter((r) => r.finishedAt !== null && r.rolledBackAt === null).map((r) => [r.migrationName, r]));
  const local = new Set(files.map((f) => f.name));
  for (const name of finished.keys()) {
    if (!local.has(name)) log(`warning: migration ${name} is applied to the database but missing from the migrations folder`);
  }
  for (const file of files) {
    const record = finished.get(file.name);
    if (record && !scriptMatchesChecksum(file.script, record.checksum)) {
      log(`warning: migration ${file.name} was modified after it was applied (checksum differs)`);
    }
  }
  return files.filter((f) => !finished.has(f.name));
}

/**
 * Applies pending migrations exactly as `prisma migrate deploy` does on PostgreSQL: under
 * Prisma's advisory lock, one `_prisma_migrations` row per migration with Prisma's checksum,
 * the script run as one multi-statement query (so PostgreSQL applies it atomically), then
 * `applied_steps_count` and `finished_at` set. A database that has tables but no migrations
 * table is refused rather than guessed at.
 */
export async function migrate(options: MigrateOptions): Promise<MigrateResult> {
  const log = options.log ?? (() => {});
  const files = await readMigrations(options.migrationsDir);
  return withClient(options.url, async (client) => {
    await client.query('SELECT pg_advisory_lock($1)', [prismaAdvisoryLock]);
    try {
      if (!(await tableExists(client))) {
        const tables = await userTables(client);
        if (tables.length > 0) {
          throw new MigrationError(
            `The database schema is not empty (tables: ${tables.slice(0, 5).join(', ')}${tables.length > 5 ? ', ...' : ''}) ` +
              'and has no _prisma_migrations table. Point DATABASE_URL at an empty database, or baseline this one first.',
          );
        }
        await client.query(createMigrationsTable);
      }
      const records = await listRecords(client);
      const pending = pendingMigrations(files, records, log);
      const applied: string[] = [];
      for (const migration of pending) {
        const id = randomUUID();
        await client.query(
          `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at) VALUES ($1, $2, $3, now())`,
          [id, migration.checksum, migration.name],
        );
        try {
          await client.query(migration.script);
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          await client.query(`UPDATE "_prisma_migrations" SET logs = $2 WHERE id = $1`, [id, message]);
          throw new MigrationError(`Migration ${migration.name} failed: ${message}`);
        }
        await client.query(`UPDATE "_prisma_migrations" SET applied_steps_count = applied_steps_count + 1 WHERE id = $1`, [id]);
        await client.query(`UPDATE "_prisma_migrations" SET finished_at = now() WHERE id = $1`, [id]);
        log(`applied migration ${migration.name}`);
        applied.push(migration.name);
      }
      const alreadyApplied = files.filter((f) => !pending.includes(f)).map((f) => f.name);
      return { applied, alreadyApplied };
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [prismaAdvisoryLock]).catch(() => {});
    }
  });
}

/**
 * Names of migrations the database still lacks (empty when up to date). Throws with a clear
 * message when the database cannot be reached at all.
 */
export async function pendingMigrationNames(url: string, migrationsDir: string): Promise<string[]> {
  const files = await readMigrations(migrationsDir);
  let records: MigrationRecord[];
  try {
    records = await migrationRecords(url);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new MigrationError(`Cannot use the database at ${redactDatabaseUrl(url)}: ${reason}`);
  }
  const applied = new Set(records.filter((r) => r.finishedAt && !r.rolledBackAt).map((r) => r.migrationName));
  return files.filter((f) => !applied.has(f.name)).map((f) => f.name);
}
