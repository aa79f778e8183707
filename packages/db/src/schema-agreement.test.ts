import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { describeDatabase, describePrismaSchema } from './schema-agreement.ts';
import { createTestDatabase } from './testing.ts';
import { findMigrationsDir, migrate } from './migrate/index.ts';

describe('schema.prisma and the migrated PostgreSQL database (real PostgreSQL)', () => {
  it('agree on every enum, table, column, type, default, index and foreign key', async () => {
    const migrationsDir = findMigrationsDir();
    const schemaText = await readFile(join(migrationsDir, '..', 'schema.prisma'), 'utf8');
    const expected = describePrismaSchema(schemaText);

    const database = await createTestDatabase(inject('postgresAdminUrl'), 'template0');
    try {
      await migrate({ url: database.url, migrationsDir });
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      try {
        const actual = await describeDatabase(client);
        expect(Object.keys(actual.tables).sort()).toEqual(Object.keys(expected.tables).sort());
        expect(actual.enums).toEqual(expected.enums);
        for (const [table, shape] of Object.entries(expected.tables)) {
          expect(actual.tables[table]?.columns, `columns of ${table}`).toEqual(shape.columns);
          expect(actual.tables[table]?.indexes, `indexes of ${table}`).toEqual(shape.indexes);
          expect(actual.tables[table]?.foreignKeys, `foreign keys of ${table}`).toEqual(shape.foreignKeys);
        }
      } finally {
        await client.end();
      }
    } finally {
      await database.drop();
    }
  });

  it('notices a schema.prisma that drifted from the migrations', () => {
    // The comparison must be able to fail: a column added only to schema.prisma shows up.
    const drifted = describePrismaSchema(`
      datasource db {
        provider = "postgresql"
      }
      model Team {
        id      String @id @db.Uuid
        name    String @unique
        extra   Int    @default(3)
        @@map("teams")
      }`);
    expect(drifted.tables.teams?.columns.extra).toEqual({ type: 'integer', nullable: false, default: '3' });
    expect(drifted.tables.teams?.indexes.teams_name_key).toEqual({ columns: ['name'], unique: true, primary: false });
  });
});
