export { appRouter, createCaller, type AppRouter } from './root.ts';
export { toTrpcError, type TrpcContext } from './trpc.ts';
export type { ProcedureCall, ProcedureObserver, ProcedureType, ProcedureVia } from './observe.ts';
export { createServiceDeps, type ServiceDepsConfig } from './deps-factory.ts';
export { sessionCookieName, serializeSessionCookie, readCookie } from './cookies.ts';
export { consoleOutageLogger, OutageReporter, serviceOutage, ServiceUnavailableError, withTimeout, type OutageLogger, type Service } from './outage.ts';
export { createRedisConnection, isLostJobStateError, isRedisConnectionError, redisOptions, waitForRedis, type RedisRole } from './redis-connections.ts';
// The REST v1 contract's types, for `cider fleet`'s typed client (type-only: no server code at runtime).
export type { ErrorBody, ErrorCode, Method, OperationId, Operations, RequestOf, ResponseOf } from './rest/contract.ts';
