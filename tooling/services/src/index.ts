export { freePort, waitFor } from './ports.ts';
export { startProcess, which, type ManagedProcess } from './processes.ts';
export { canConnect, defaultPostgresUrl, ensurePostgres, redact, withDatabase, type RunningPostgres } from './postgres.ts';
export { findPostgresBinaries, startPrivatePostgres, type PostgresBinaries, type PrivatePostgres, type PrivatePostgresOptions } from './private-postgres.ts';
export { defaultRedisUrl, deleteKeys, ensureRedis, pingRedis, startRedisServer, type RedisServer, type RunningRedis } from './redis.ts';
export { registryBinary, startRegistry, type RegistryAuth, type RegistryOptions, type RunningRegistry } from './registry.ts';
