export { createDb, type Db, type DbOptions } from './client.ts';
export { Prisma } from './generated/prisma/client.ts';
export type * from './generated/prisma/models.ts';
export * from './generated/prisma/enums.ts';
