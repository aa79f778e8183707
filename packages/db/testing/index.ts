// Test databases: one migrated template per set of migrations, cloned per test file with
// CREATE DATABASE ... TEMPLATE, which takes milliseconds instead of re-running migrations.
import { createHash, randomBytes } from 'node:crypto';
import { withDatabase } from '@cider/services';
import pg from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';
import { createDb, type Db } from '../src/client.ts';
import { migrate, readMigrations } from '../src/migrate/index.ts';

const testDatabasePrefix = 'cider_t_';

async function admin<T>(adminUrl: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  client.on('error', () => {});
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/**
 * Creates (once per distinct set of migrations) a migrated template database and returns its
 * name. Concurrent callers wait on an advisory lock; a half-built template is never visible
 * because it is migrated under a temporary name and renamed when done.
 */
export async function ensureTemplateDatabase(adminUrl: string, migrationsDir: string): Promise<string> {
  const migrations = await readMigrations(migrationsDir);
  const fingerprint = createHash('sha256').update(migrations.map((m) => `${m.name}:${m.checksum}`).join('\n')).digest('hex');
  const template = `cider_tpl_${fingerprint.slice(0, 16)}`;
  return admin(adminUrl, async (client) => {
    await client.query('SELECT pg_advisory_lock(hashtext($1))', ['cider-test-template']);
    try {
      const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [template]);
      if (exists.rowCount) return template;
      const building = `${template}_building`;
      await client.query(`DROP DATABASE IF EXISTS "${building}" WITH (FORCE)`);
      await client.query(`CREATE DATABASE "${building}"`);
      await migrate({ url: withDatabase(adminUrl, building), migrationsDir });
      await client.query(`ALTER DATABASE "${building}" RENAME TO "${template}"`);
      return template;
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', ['cider-test-template']);
    }
  });
}

/** Drops test databases left by runs that were killed (their process no longer exists). */
export async function dropStaleTestDatabases(adminUrl: string): Promise<void> {
  await admin(adminUrl, async (client) => {
    // "_" is LIKE's any-character wildcard: unescaped, `cider_t_%` also matched the migrated
    // templates (`cider_tpl_…`), which were dropped under any other run still cloning them.
    const { rows } = await client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [
      `${testDatabasePrefix.replaceAll('_', '\\_')}%`,
    ]);
    for (const { datname } of rows) {
      const pid = Number(datname.slice(testDatabasePrefix.length).split('_')[0]);
      if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) continue;
      await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`).catch(() => {});
    }
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** A fresh, migrated database cloned from the template. */
export async function createTestDatabase(adminUrl: string, template: string): Promise<TestDatabase> {
  const name = `${testDatabasePrefix}${process.pid}_${randomBytes(4).toString('hex')}`;
  await admin(adminUrl, async (client) => {
    // Cloning fails while another session is connected to the template; that is only ever a
    // brief overlap with another clone, so retry a few times.
    for (let attempt = 0; ; attempt++) {
      try {
        await client.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
        return;
      } catch (error) {
        if (attempt >= 20 || !String(error).includes('being accessed by other users')) throw error;
        await new Promise((r) => setTimeout(r, 100 + attempt * 50));
      }
    }
  });
  return {
    name,
    url: withDatabase(adminUrl, name),
    drop: () => admin(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => {}),
  };
}

export interface TestDatabaseHandle {
  readonly url: string;
  readonly db: Db;
}

/**
 * For a test file: clones its own database before the tests and drops it after. Needs the root
 * vitest global setup, which provides the admin URL and template name.
 */
export function useTestDatabase(): TestDatabaseHandle {
  let database: TestDatabase | undefined;
  let db: Db | undefined;
  beforeAll(async () => {
    database = await createTestDatabase(inject('postgresAdminUrl'), inject('databaseTemplate'));
    db = createDb(database.url, { max: 4 });
  });
  afterAll(async () => {
    await db?.$disconnect();
    await database?.drop();
  });
  return {
    get url() {
      if (!database) throw new Error('useTestDatabase(): the database exists only inside tests and hooks');
      return database.url;
    },
    get db() {
      if (!db) throw new Error('useTestDatabase(): the client exists only inside tests and hooks');
      return db;
    },
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    postgresAdminUrl: string;
    databaseTemplate: string;
  }
}
