#!/usr/bin/env node
// cider-control: `run` starts the gateway and workers; `migrate` applies database migrations.
import { waitForRedis } from '@cider/api';
import { ociTaskRunners, serverTaskConfigFromEnv } from '@cider/api/services';
import { waitForDatabase } from '@cider/db';
import { findMigrationsDir, migrate, pendingMigrationNames } from '@cider/db/migrate';
import { Command } from 'commander';
import pino from 'pino';
import { parseControlEnv, readTlsFiles } from './env.ts';
import { installProcessHandlers } from './process-handlers.ts';
import { startControl } from './server.ts';

function fail(error: unknown): never {
  console.error(`cider-control: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}

const program = new Command('cider-control').description('Cider Fleet control plane: agent gateway and job workers');

program
  .command('migrate')
  .description('apply database migrations (as `prisma migrate deploy` would) and exit')
  .action(async () => {
    const url = process.env.DATABASE_URL;
    if (!url) fail('DATABASE_URL is not set');
    try {
      const result = await migrate({ url, migrationsDir: findMigrationsDir(), log: (line) => console.log(line) });
      console.log(`migrations: ${result.applied.length} applied, ${result.alreadyApplied.length} already applied`);
    } catch (error) {
      fail(error);
    }
  });

program
  .command('run', { isDefault: true })
  .description('run the agent gateway and the job workers')
  .option('--migrate', 'apply migrations before starting')
  .action(async (options: { migrate?: boolean }) => {
    let env;
    try {
      env = parseControlEnv();
    } catch (error) {
      fail(error);
    }
    const log = pino({ name: 'cider-control', level: env.LOG_LEVEL });
    const running: { control?: { close(): Promise<void> } } = {};
    installProcessHandlers(log, async () => running.control?.close());
    let tls;
    try {
      tls = readTlsFiles(env);
    } catch (error) {
      fail(error);
    }
    // Started while PostgreSQL or Redis is down (a reboot, a failover): wait for them and say so,
    // rather than exit and be restarted in a loop. Configuration errors still fail at once.
    await waitForDatabase(env.DATABASE_URL, { log: (line) => log.warn(line) }).catch(fail);
    await waitForRedis(env.REDIS_URL, log);
    if (options.migrate) await migrate({ url: env.DATABASE_URL, migrationsDir: findMigrationsDir(), log: (line) => log.info(line) }).catch(fail);
    const pending = await pendingMigrationNames(env.DATABASE_URL, findMigrationsDir()).catch(fail);
    if (pending.length > 0) fail(`The database lacks migrations (${pending.join(', ')}). Run \`cider-control migrate\` first, or start with --migrate.`);
    const control = await startControl({
      databaseUrl: env.DATABASE_URL,
      redisUrl: env.REDIS_URL,
      redisPrefix: env.CIDER_REDIS_PREFIX,
      secretKey: env.CIDER_SECRET_KEY,
      host: env.CIDER_CONTROL_HOST,
      port: env.CIDER_CONTROL_PORT,
      maxConcurrentPulls: env.CIDER_MAX_CONCURRENT_PULLS,
      maxPullsPerNode: env.CIDER_MAX_PULLS_PER_NODE,
      reconcileIntervalMs: env.CIDER_RECONCILE_INTERVAL_S * 1000,
      registryWatchIntervalMs: env.CIDER_REGISTRY_WATCH_INTERVAL_S * 1000,
      heartbeatIntervalMs: env.CIDER_HEARTBEAT_INTERVAL_S * 1000,
      syncStallTimeoutMs: env.CIDER_SYNC_STALL_TIMEOUT_S * 1000,
      peerFanOut: env.CIDER_PEER_FANOUT,
      tasks: serverTaskConfigFromEnv(env, ociTaskRunners()),
      metrics: { token: env.CIDER_METRICS_TOKEN, listen: env.CIDER_METRICS_LISTEN },
      tls,
      log,
    }).catch(fail);
    running.control = control;
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'shutting down');
      control.close().then(
        () => process.exit(0),
        (error: unknown) => {
          log.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });

await program.parseAsync();
