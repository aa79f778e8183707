// waitForDatabase against real servers: it waits (and says so, not once per retry) for a
// cluster that starts late, and refuses at once what waiting cannot fix.
import { freePort, startPrivatePostgres, withDatabase, type PrivatePostgres } from '@cider/services';
import { afterAll, describe, expect, inject, it, vi } from 'vitest';
import { waitForDatabase } from './wait.ts';

describe('waitForDatabase (real PostgreSQL)', () => {
  let late: PrivatePostgres | undefined;
  afterAll(async () => {
    await late?.remove();
  });

  it('waits for a server that comes up later, logging the wait a bounded number of times', async () => {
    const port = await freePort();
    const lines: string[] = [];
    const waiting = waitForDatabase(`postgresql://postgres@127.0.0.1:${port}/postgres`, {
      log: (line) => lines.push(line),
      initialDelayMs: 50,
      maxDelayMs: 200,
      logEveryMs: 60_000,
      timeoutMs: 60_000,
    });
    // The wait has begun (its first attempt was refused) before the cluster is even created;
    // creating and starting it takes long enough for several more attempts.
    await vi.waitFor(() => expect(lines).toHaveLength(1), { timeout: 10_000, interval: 10 });
    late = await startPrivatePostgres({ port });
    await waiting;
    // One line when the wait began, one when it ended: not one per attempt.
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^waiting for PostgreSQL at postgresql:\/\/postgres@127\.0\.0\.1:\d+\/postgres \(.*ECONNREFUSED.*\); attempt 1/);
    expect(lines[1]).toMatch(/answers again after \d+ s \(\d+ attempts\)/);
    expect(Number(/\((\d+) attempts\)/.exec(lines[1]!)?.[1])).toBeGreaterThan(2);
  });

  it('gives up after its timeout while the server stays away', async () => {
    const url = `postgresql://postgres@127.0.0.1:${await freePort()}/postgres`;
    await expect(waitForDatabase(url, { initialDelayMs: 50, maxDelayMs: 100, timeoutMs: 500 })).rejects.toThrow(/did not answer within \d+ s/);
  });

  it('fails at once when the server answers but refuses (no such database)', async () => {
    const url = withDatabase(inject('postgresAdminUrl'), 'cider_no_such_database');
    const started = Date.now();
    await expect(waitForDatabase(url, { timeoutMs: 60_000 })).rejects.toThrow(/Cannot use the database at .*cider_no_such_database.*does not exist/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
