export { createDb, defaultConnectionTimeoutMs, defaultStatementTimeoutMs, type Db, type DbOptions } from './client.ts';
export { databaseOutage, type DatabaseOutage } from './outage.ts';
export { redactDatabaseUrl, waitForDatabase, type WaitForDatabaseOptions } from './wait.ts';
export { Prisma } from './generated/prisma/client.ts';
export type {
  ApiToken,
  AuditEvent,
  EnrollmentToken,
  Membership,
  Mirror,
  Node,
  NodeImage,
  Pin,
  Project,
  Registry,
  Session,
  ServerTask,
  SyncJob,
  Team,
  User,
} from './generated/prisma/client.ts';
export * from './generated/prisma/enums.ts';
