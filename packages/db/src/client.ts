import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/prisma/client.ts';

export type Db = PrismaClient;

/** How long to wait for a connection, new or from a busy pool: a dead server fails fast instead of hanging on the OS TCP timeout. */
export const defaultConnectionTimeoutMs = 3_000;
/**
 * The longest one statement may run on the server. The slowest legitimate statements are a
 * reconcile's reads (well under a second for 1,000 nodes) and the wait for the reconcile
 * advisory lock (as long as another reconcile takes); migrations run on their own connection
 * without this limit.
 */
export const defaultStatementTimeoutMs = 15_000;

export interface DbOptions {
  /** Pool size per process; web and control are stateless, so keep it modest. */
  max?: number;
  connectionTimeoutMs?: number;
  statementTimeoutMs?: number;
}

/** A Prisma Client on the node-postgres driver (no query engine binary anywhere). */
export function createDb(url: string, options: DbOptions = {}): Db {
  const adapter = new PrismaPg({
    connectionString: url,
    max: options.max ?? 10,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? defaultConnectionTimeoutMs,
    // Sent as a startup parameter, so it holds for every statement on the pool's connections.
    statement_timeout: options.statementTimeoutMs ?? defaultStatementTimeoutMs,
    // Finds connections to a host that vanished (no RST) instead of waiting on them for minutes.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  });
  return new PrismaClient({ adapter });
}
