import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { describeDatabase, describePrismaSchema } from './schema-agreement.ts';
import { schemaDrift } from './schema-drift.ts';
import { createTestDatabase, type TestDatabase } from '../testing/index.ts';
import { findMigrationsDir, migrate } from './migrate/index.ts';

const migrationsDir = findMigrationsDir();
const readSchema = () => readFile(join(migrationsDir, '..', 'schema.prisma'), 'utf8');

/** The agreement check: how the database at `url` differs from `schemaText`, one line per difference. */
async function drift(url: string, schemaText: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return schemaDrift(describePrismaSchema(schemaText), await describeDatabase(client));
  } finally {
    await client.end();
  }
}

async function run(url: string, statements: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const sql of statements) await client.query(sql);
  } finally {
    await client.end();
  }
}

describe('schema.prisma and the migrated PostgreSQL database (real PostgreSQL)', () => {
  it('agree on every enum, table, column, type, default, index and foreign key', async () => {
    const schemaText = await readSchema();
    const database = await createTestDatabase(inject('postgresAdminUrl'), 'template0');
    try {
      await migrate({ url: database.url, migrationsDir });
      expect(await drift(database.url, schemaText)).toEqual([]);
    } finally {
      await database.drop();
    }
  });

  it('translates schema.prisma fields, defaults and unique indexes as PostgreSQL prints them', () => {
    const translated = describePrismaSchema(`
      datasource db {
        provider = "postgresql"
      }
      model Team {
        id      String @id @db.Uuid
        name    String @unique
        extra   Int    @default(3)
        @@map("teams")
      }`);
    expect(translated.tables.teams?.columns.extra).toEqual({ type: 'integer', nullable: false, default: '3' });
    expect(translated.tables.teams?.indexes.teams_name_key).toEqual({ columns: ['name'], unique: true, primary: false });
  });
});

describe('the agreement check fails on a database that drifted from schema.prisma (real PostgreSQL)', () => {
  // Each case changes a clone of the run's migrated template the way a hand edit in production,
  // or a migration that forgot part of a schema change, would.
  const drifts: { what: string; sql: string[]; reported: string[] }[] = [
    { what: 'a column added by hand', sql: ['ALTER TABLE "teams" ADD COLUMN "extra" INTEGER NOT NULL DEFAULT 3'], reported: ['column teams.extra: only in the database'] },
    { what: 'a dropped column', sql: ['ALTER TABLE "nodes" DROP COLUMN "agent_version"'], reported: ['column nodes.agent_version: only in schema.prisma'] },
    { what: 'a dropped index', sql: ['DROP INDEX "sync_jobs_state_idx"'], reported: ['index sync_jobs_state_idx on sync_jobs: only in schema.prisma'] },
    {
      what: 'a changed column type',
      sql: ['ALTER TABLE "nodes" ALTER COLUMN "agent_version" TYPE VARCHAR(20)'],
      reported: ['column nodes.agent_version: type text in schema.prisma, character varying(20) in the database'],
    },
    { what: 'a column made NOT NULL', sql: ['ALTER TABLE "sync_jobs" ALTER COLUMN "error" SET NOT NULL'], reported: ['column sync_jobs.error: nullable in schema.prisma, NOT NULL in the database'] },
    { what: 'a changed default', sql: ['ALTER TABLE "sync_jobs" ALTER COLUMN "attempts" SET DEFAULT 1'], reported: ['column sync_jobs.attempts: default "0" in schema.prisma, "1" in the database'] },
    { what: 'an enum value added by hand', sql: [`ALTER TYPE "Role" ADD VALUE 'owner'`], reported: ['enum Role: values admin, member, viewer in schema.prisma, admin, member, viewer, owner in the database'] },
    { what: 'a dropped foreign key', sql: ['ALTER TABLE "sync_jobs" DROP CONSTRAINT "sync_jobs_node_id_fkey"'], reported: ['foreign key sync_jobs_node_id_fkey on sync_jobs: only in schema.prisma'] },
    {
      what: 'an index that lost its uniqueness',
      sql: ['DROP INDEX "teams_name_key"', 'CREATE INDEX "teams_name_key" ON "teams" ("name")'],
      reported: ['index teams_name_key on teams: {"columns":["name"],"unique":true,"primary":false} in schema.prisma, {"columns":["name"],"unique":false,"primary":false} in the database'],
    },
    { what: 'a table nobody declared', sql: ['CREATE TABLE "stray" ("id" INTEGER)'], reported: ['table stray: only in the database'] },
  ];

  let schemaText: string;
  beforeAll(async () => {
    schemaText = await readSchema();
  });

  for (const { what, sql, reported } of drifts) {
    it(`names ${what}`, async () => {
      const database = await createTestDatabase(inject('postgresAdminUrl'), inject('databaseTemplate'));
      try {
        expect(await drift(database.url, schemaText)).toEqual([]);
        await run(database.url, sql);
        expect(await drift(database.url, schemaText)).toEqual(reported);
      } finally {
        await database.drop();
      }
    });
  }

  describe('and on a schema.prisma that drifted from the migrations', () => {
    let database: TestDatabase;
    beforeAll(async () => {
      database = await createTestDatabase(inject('postgresAdminUrl'), inject('databaseTemplate'));
    });
    afterAll(async () => {
      await database?.drop();
    });

    it('names a field added to schema.prisma without a migration, and a widened column', async () => {
      const edited = schemaText
        .replace(/(model Team \{\n[^}]*? {2}name\s+String\s+@unique[^\n]*\n)/, '$1  motto String?\n')
        .replace(/(model SyncJob \{[^}]*?digest\s+String\s+)@db\.VarChar\(71\)/, '$1@db.VarChar(80)');
      expect(edited).not.toBe(schemaText);
      expect(await drift(database.url, edited)).toEqual([
        'column sync_jobs.digest: type character varying(80) in schema.prisma, character varying(71) in the database',
        'column teams.motto: only in schema.prisma',
      ]);
    });
  });
});
