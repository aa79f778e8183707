import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, inject, it, vi } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../testing/index.ts';
import { migrationChecksum, scriptMatchesChecksum } from './checksum.ts';
import { findMigrationsDir, readMigrations } from './index.ts';
import { migrate, migrationRecords, MigrationError } from './runner.ts';

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

describe('checksums as prisma migrate records them', () => {
  it('is sha256 hex of the script, zero-padded', () => {
    // The value Prisma's own schema-engine test expects for "hello".
    expect(migrationChecksum('hello')).toBe('2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824');
  });
  it('matches across line endings but not across content', () => {
    expect(scriptMatchesChecksum('a\r\nb\r\n', migrationChecksum('a\nb\n'))).toBe(true);
    expect(scriptMatchesChecksum('a\nb\n', migrationChecksum('a\r\nb\r\n'))).toBe(true);
    expect(scriptMatchesChecksum('abc\n', migrationChecksum('abc'))).toBe(false);
  });
});

describe('migration runner (real PostgreSQL)', () => {
  let database: TestDatabase;
  let dir: string;

  beforeEach(async () => {
    database = await createTestDatabase(inject('postgresAdminUrl'), 'template0');
    dir = await mkdtemp(join(tmpdir(), 'cider-migrations-'));
    await writeFile(join(dir, 'migration_lock.toml'), 'provider = "postgresql"\n');
  });
  afterEach(async () => {
    await database.drop();
    await rm(dir, { recursive: true, force: true });
  });

  async function addMigration(name: string, sql: string) {
    await mkdir(join(dir, name));
    await writeFile(join(dir, name, 'migration.sql'), sql);
  }

  it('applies pending migrations in order and records them like prisma migrate deploy', async () => {
    await addMigration('20260101000000_a', 'CREATE TABLE "a" ("id" INTEGER NOT NULL);\n');
    await addMigration('20260102000000_b', 'ALTER TABLE "a" ADD COLUMN "name" TEXT;\nCREATE TABLE "b" ("id" INTEGER);\n');
    const first = await migrate({ url: database.url, migrationsDir: dir });
    expect(first.applied).toEqual(['20260101000000_a', '20260102000000_b']);

    const rows = await query<{ id: string; checksum: string; migration_name: string; finished_at: Date | null; applied_steps_count: number; logs: string | null; rolled_back_at: Date | null }>(
      database.url,
      'SELECT * FROM "_prisma_migrations" ORDER BY migration_name',
    );
    expect(rows.map((r) => r.migration_name)).toEqual(['20260101000000_a', '20260102000000_b']);
    expect(rows[0]!.checksum).toBe(migrationChecksum('CREATE TABLE "a" ("id" INTEGER NOT NULL);\n'));
    for (const row of rows) {
      expect(row.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(row.finished_at).toBeInstanceOf(Date);
      expect(row.applied_steps_count).toBe(1);
      expect(row.logs).toBeNull();
      expect(row.rolled_back_at).toBeNull();
    }
    // The table itself has Prisma's exact column types.
    const columns = await query<{ column_name: string; data_type: string }>(
      database.url,
      `SELECT column_name, data_type FROM information_schema.columns WHERE table_name = '_prisma_migrations' ORDER BY ordinal_position`,
    );
    expect(columns.map((c) => `${c.column_name}:${c.data_type}`)).toEqual([
      'id:character varying',
      'checksum:character varying',
      'finished_at:timestamp with time zone',
      'migration_name:character varying',
      'logs:text',
      'rolled_back_at:timestamp with time zone',
      'started_at:timestamp with time zone',
      'applied_steps_count:integer',
    ]);

    const second = await migrate({ url: database.url, migrationsDir: dir });
    expect(second.applied).toEqual([]);
    expect(second.alreadyApplied).toHaveLength(2);
  });

  it('records a failed migration with its error, rolls its statements back and blocks later runs', async () => {
    await addMigration('20260101000000_ok', 'CREATE TABLE "ok" ("id" INTEGER);\n');
    await addMigration('20260102000000_bad', 'CREATE TABLE "half" ("id" INTEGER);\nSELECT * FROM "missing_table";\n');
    await expect(migrate({ url: database.url, migrationsDir: dir })).rejects.toThrow(/20260102000000_bad failed: .*missing_table/);

    const records = await migrationRecords(database.url);
    const bad = records.find((r) => r.migrationName === '20260102000000_bad')!;
    expect(bad.finishedAt).toBeNull();
    expect(bad.logs).toMatch(/missing_table/);
    const half = await query(database.url, `SELECT to_regclass('"half"') AS t`);
    expect(half[0]).toEqual({ t: null });

    await expect(migrate({ url: database.url, migrationsDir: dir })).rejects.toThrow(MigrationError);
    await expect(migrate({ url: database.url, migrationsDir: dir })).rejects.toThrow(/failed migrations/);
  });

  it('refuses a database that has tables but no migration history', async () => {
    await query(database.url, 'CREATE TABLE "someone_elses" ("id" INTEGER)');
    await addMigration('20260101000000_a', 'CREATE TABLE "a" ("id" INTEGER);\n');
    await expect(migrate({ url: database.url, migrationsDir: dir })).rejects.toThrow(/not empty.*someone_elses/);
  });

  it('warns when an applied migration was edited afterwards', async () => {
    await addMigration('20260101000000_a', 'CREATE TABLE "a" ("id" INTEGER);\n');
    await migrate({ url: database.url, migrationsDir: dir });
    await writeFile(join(dir, '20260101000000_a', 'migration.sql'), 'CREATE TABLE "a" ("id" BIGINT);\n');
    const lines: string[] = [];
    await migrate({ url: database.url, migrationsDir: dir, log: (l) => lines.push(l) });
    expect(lines.join('\n')).toMatch(/20260101000000_a was modified after it was applied/);
  });

  describe('two runners at once (two control processes starting together)', () => {
    /** Sessions of this database waiting for a lock: on the gate table, or on an advisory lock (Prisma's). */
    async function waiters(): Promise<{ gate: number; advisory: number }> {
      const rows = await query<{ locktype: string; relation: string | null }>(
        database.url,
        `SELECT locktype, relation::regclass::text AS relation FROM pg_locks
         WHERE NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      );
      return { gate: rows.filter((r) => r.relation === 'gate.hold').length, advisory: rows.filter((r) => r.locktype === 'advisory').length };
    }

    it('applies each migration once while the second runner waits for the first, and both succeed', async () => {
      // The first migration reads a table this test holds locked, so the runner that gets there
      // first stays inside it (its row written, unfinished) until the test lets go. Only then is
      // it certain that the two runs overlap. The gate lives in its own schema: the runner
      // refuses a database whose own schema already has tables.
      await query(database.url, 'CREATE SCHEMA gate; CREATE TABLE gate.hold (id INTEGER)');
      await addMigration('20260101000000_first', 'CREATE TABLE "runs" ("name" TEXT NOT NULL);\nSELECT count(*) FROM gate.hold;\nINSERT INTO "runs" VALUES (\'first\');\n');
      await addMigration('20260102000000_second', 'INSERT INTO "runs" VALUES (\'second\');\n');
      const gate = new pg.Client({ connectionString: database.url });
      await gate.connect();
      try {
        await gate.query('BEGIN');
        await gate.query('LOCK TABLE gate.hold IN ACCESS EXCLUSIVE MODE');
        const settled = [false, false];
        const runs = [0, 1].map((i) =>
          migrate({ url: database.url, migrationsDir: dir }).finally(() => {
            settled[i] = true;
          }),
        );
        for (const run of runs) run.catch(() => {});
        // One runner inside the first migration, the other waiting on Prisma's advisory lock
        // (or already finished, which only a runner without the lock could be).
        await vi.waitFor(
          async () => {
            const waiting = await waiters();
            expect(waiting.gate).toBe(1);
            expect(waiting.advisory + settled.filter(Boolean).length).toBe(1);
          },
          { timeout: 10_000, interval: 20 },
        );
        await gate.query('COMMIT');
        const results = await Promise.allSettled(runs);
        expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
        const applied = results.map((r) => (r.status === 'fulfilled' ? r.value.applied : []));
        // One runner applied both; the other found nothing left to do.
        expect(applied.map((names) => names.length).sort()).toEqual([0, 2]);
      } finally {
        await gate.end();
      }
      const records = await query<{ migration_name: string; finished_at: Date | null }>(database.url, 'SELECT migration_name, finished_at FROM "_prisma_migrations" ORDER BY migration_name');
      expect(records.map((r) => r.migration_name)).toEqual(['20260101000000_first', '20260102000000_second']);
      expect(records.every((r) => r.finished_at instanceof Date)).toBe(true);
      expect((await query<{ name: string }>(database.url, 'SELECT name FROM "runs" ORDER BY name')).map((r) => r.name)).toEqual(['first', 'second']);
    });

    it('migrates a fresh database with the real migrations from two runners at once', async () => {
      const migrationsDir = findMigrationsDir();
      const names = (await readMigrations(migrationsDir)).map((m) => m.name);
      const results = await Promise.allSettled([migrate({ url: database.url, migrationsDir }), migrate({ url: database.url, migrationsDir })]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
      const applied = results.flatMap((r) => (r.status === 'fulfilled' ? r.value.applied : []));
      expect(applied.sort()).toEqual(names);
      const records = await migrationRecords(database.url);
      expect(records.map((r) => r.migrationName).sort()).toEqual(names);
      expect(records.every((r) => r.finishedAt !== null && r.appliedStepsCount === 1)).toBe(true);
    });
  });
});
