// What createDb's client does when PostgreSQL goes away, against a real private cluster that the
// test kills (SIGKILL to the whole server) and restarts, a port nobody listens on, and a server
// that accepts connections but never answers: every failure is quick and classified as an
// outage, ordinary query errors are not, and the same client works again once the server is back.
import { createServer, type Server, type Socket } from 'node:net';
import { freePort, startPrivatePostgres, type PrivatePostgres } from '@cider/services';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createDb, type Db } from './client.ts';
import { databaseOutage } from './outage.ts';

async function failure(run: () => Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const started = Date.now();
  try {
    await run();
  } catch (error) {
    return { error, ms: Date.now() - started };
  }
  throw new Error('expected the call to fail');
}

describe('database outages (real PostgreSQL cluster, killed and restarted)', () => {
  let server: PrivatePostgres;
  let db: Db;
  const sockets = new Set<Socket>();
  let blackhole: Server;
  let blackholePort = 0;

  beforeAll(async () => {
    server = await startPrivatePostgres();
    db = createDb(server.adminUrl, { max: 3, statementTimeoutMs: 500 });
    // Accepts TCP connections and never says a word: a host that hangs.
    blackhole = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => blackhole.listen(0, '127.0.0.1', resolve));
    blackholePort = (blackhole.address() as { port: number }).port;
  });
  afterAll(async () => {
    await db?.$disconnect();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => blackhole?.close(() => resolve()));
    await server?.remove();
  });

  it('classifies ordinary query errors as no outage', async () => {
    const { error } = await failure(() => db.$queryRawUnsafe('SELECT * FROM no_such_table'));
    expect(databaseOutage(error)).toBeUndefined();
    expect(databaseOutage(new Error('Wrong email or password.'))).toBeUndefined();
    expect(databaseOutage(undefined)).toBeUndefined();
  });

  it('ends a statement that runs past statement_timeout, as a timeout', async () => {
    const { error, ms } = await failure(() => db.$queryRawUnsafe('SELECT pg_sleep(5)'));
    expect(databaseOutage(error)).toBe('timeout');
    expect(ms).toBeLessThan(4_000);
  });

  it('fails fast with an outage while the server is killed, and works again after it restarts', async () => {
    expect(await db.$queryRawUnsafe<{ n: number }[]>('SELECT 1 AS n')).toEqual([{ n: 1 }]);
    const inFlight = failure(() => db.$queryRawUnsafe("SELECT pg_sleep(0.4), 'in flight'"));
    // Killed while the server is running it (seen from another of the pool's connections).
    await vi.waitFor(
      async () => {
        const running = await db.$queryRawUnsafe<{ n: number }[]>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%''in flight''%' AND pid <> pg_backend_pid()",
        );
        expect(running).toEqual([{ n: 1 }]);
      },
      { timeout: 5_000, interval: 10 },
    );
    await server.stop('SIGKILL');
    expect(databaseOutage((await inFlight).error)).toBe('unreachable');

    for (const run of [() => db.$queryRawUnsafe('SELECT 1'), () => db.$transaction(async (tx) => tx.$queryRawUnsafe('SELECT 1'))]) {
      const { error, ms } = await failure(run);
      expect(databaseOutage(error)).toBe('unreachable');
      expect(ms).toBeLessThan(4_000);
    }

    server = await startPrivatePostgres({ dataDir: server.dataDir, port: server.port });
    expect(await db.$queryRawUnsafe<{ n: number }[]>('SELECT 2 AS n')).toEqual([{ n: 2 }]);
  });

  it('fails within the connection timeout when nothing listens, or the server never answers', async () => {
    const refused = createDb(`postgresql://postgres@127.0.0.1:${await freePort()}/postgres`);
    const hanging = createDb(`postgresql://postgres@127.0.0.1:${blackholePort}/postgres`, { connectionTimeoutMs: 1_000 });
    try {
      const a = await failure(() => refused.$queryRawUnsafe('SELECT 1'));
      expect(databaseOutage(a.error)).toBe('unreachable');
      expect(a.ms).toBeLessThan(2_000);
      const b = await failure(() => hanging.$queryRawUnsafe('SELECT 1'));
      expect(databaseOutage(b.error)).toBe('unreachable');
      expect(b.ms).toBeLessThan(3_000);
    } finally {
      await refused.$disconnect();
      await hanging.$disconnect();
    }
  });
});
