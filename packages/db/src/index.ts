export { createDb, type Db, type DbOptions } from './client.ts';
export { Prisma } from './generated/prisma/client.ts';
export type {
  ApiToken,
  AuditEvent,
  EnrollmentToken,
  Membership,
  Node,
  NodeImage,
  Pin,
  Project,
  Registry,
  Session,
  SyncJob,
  Team,
  User,
} from './generated/prisma/client.ts';
export * from './generated/prisma/enums.ts';
