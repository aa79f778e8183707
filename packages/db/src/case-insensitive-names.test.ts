// Names that differ only in case ("iOS CI", "ios ci") cannot both exist, and the migration that
// makes it so keeps rows that already clash (renamed, never dropped). Real PostgreSQL: the
// migrations up to the one before, some clashing rows, then the migration itself.
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../testing/index.ts';
import { findMigrationsDir, migrate } from './migrate/index.ts';

const migration = '20261205000000_case_insensitive_names';

describe('case-insensitive names (real PostgreSQL)', () => {
  let database: TestDatabase;
  let dir: string;
  let client: pg.Client;

  beforeAll(async () => {
    const source = findMigrationsDir();
    dir = await mkdtemp(join(tmpdir(), 'cider-names-'));
    for (const entry of await readdir(source)) {
      if (entry < migration || !/^\d/.test(entry)) await cp(join(source, entry), join(dir, entry), { recursive: true });
    }
    database = await createTestDatabase(inject('postgresAdminUrl'), 'template0');
    await migrate({ url: database.url, migrationsDir: dir });
    client = new pg.Client({ connectionString: database.url });
    await client.connect();
    await client.query(`INSERT INTO teams (id, name, created_at) VALUES
      ('00000000-0000-4000-8000-000000000001', 'iOS CI', now() - interval '1 day'),
      ('00000000-0000-4000-8000-000000000002', 'ios ci', now())`);
    await client.query(`INSERT INTO nodes (id, name, secret_hash, enrolled_at) VALUES
      ('00000000-0000-4000-8000-000000000003', 'mac-1', 'x', now() - interval '1 day'),
      ('00000000-0000-4000-8000-000000000004', 'MAC-1', 'x', now())`);
    await cp(join(source, migration), join(dir, migration), { recursive: true });
    await migrate({ url: database.url, migrationsDir: dir });
  });
  afterAll(async () => {
    await client?.end();
    await database?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps the oldest of names that clash and renames the others, saying which row they are', async () => {
    const teams = await client.query<{ name: string }>('SELECT name FROM teams ORDER BY created_at');
    expect(teams.rows.map((r) => r.name)).toEqual(['iOS CI', 'ios ci (00000000)']);
    const nodes = await client.query<{ name: string }>('SELECT name FROM nodes ORDER BY enrolled_at');
    expect(nodes.rows.map((r) => r.name)).toEqual(['mac-1', 'MAC-1-00000000']);
  });

  for (const [table, extra] of [
    ['teams', ''],
    ['registries', `, host, updated_at`],
    ['nodes', `, secret_hash`],
  ] as const) {
    it(`refuses a ${table} name that differs from an existing one only in case`, async () => {
      const values = (name: string, n: number) =>
        table === 'teams' ? `(gen_random_uuid(), '${name}')` : table === 'registries' ? `(gen_random_uuid(), '${name}', 'h${n}.example', now())` : `(gen_random_uuid(), '${name}', 'x')`;
      await client.query(`INSERT INTO ${table} (id, name${extra}) VALUES ${values('Build Farm', 1)}`);
      await expect(client.query(`INSERT INTO ${table} (id, name${extra}) VALUES ${values('build FARM', 2)}`)).rejects.toThrow(/duplicate key value violates unique constraint "\w+_name_key"/);
      const found = await client.query(`SELECT name FROM ${table} WHERE name = 'BUILD farm'`);
      expect(found.rows).toEqual([{ name: 'Build Farm' }]);
    });
  }
});
