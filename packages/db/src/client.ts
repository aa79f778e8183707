import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/prisma/client.ts';

export type Db = PrismaClient;

export interface DbOptions {
  /** Pool size per process; web and control are stateless, so keep it modest. */
  max?: number;
}

/** A Prisma Client on the node-postgres driver (no query engine binary anywhere). */
export function createDb(url: string, options: DbOptions = {}): Db {
  const adapter = new PrismaPg({ connectionString: url, max: options.max ?? 10 });
  return new PrismaClient({ adapter });
}
