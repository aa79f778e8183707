// Sweeping the test databases of killed runs drops those and nothing else: not a migrated
// template (which another run may be cloning this very moment), not a live run's database.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { dropStaleTestDatabases } from '../testing/index.ts';

describe('dropStaleTestDatabases (real PostgreSQL)', () => {
  const suffix = Math.random().toString(16).slice(2, 10);
  // A pid above Linux's pid_max: no process has it, so its run is dead.
  const names = { stale: `cider_t_999999999_${suffix}`, live: `cider_t_${process.pid}_${suffix}`, template: `cider_tpl_sweep${suffix}` };
  let client: pg.Client;
  const exists = async (name: string) => (await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1;

  beforeAll(async () => {
    client = new pg.Client({ connectionString: inject('postgresAdminUrl') });
    await client.connect();
    for (const name of Object.values(names)) await client.query(`CREATE DATABASE "${name}"`);
  });

  afterAll(async () => {
    for (const name of Object.values(names)) await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await client.end();
  });

  it('drops a dead run’s database and keeps templates and live runs’ databases', async () => {
    await dropStaleTestDatabases(inject('postgresAdminUrl'));
    expect(await exists(names.stale)).toBe(false);
    expect(await exists(names.live)).toBe(true);
    expect(await exists(names.template)).toBe(true);
  });
});
