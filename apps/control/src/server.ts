// The control plane in one process: the agent gateway and the BullMQ workers. Stateless apart
// from its sockets: run as many as needed behind a load balancer.
import { createRedisConnection, createServiceDeps, isLostJobStateError, isRedisConnectionError, type ServiceDepsConfig } from '@cider/api';
import { createConsumers, openStates, recordTrends, SyncOutcomeRouter } from '@cider/api/services';
import { syncJobKey } from '@cider/protocol';
import { metricsEndpoint, startMetricsServer, type MetricsServer } from '@cider/protocol/metrics-endpoint';
import { UnrecoverableError, type ConnectionOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import pino, { type Logger } from 'pino';
import { CommandBus } from './gateway/commands.ts';
import { AgentGateway, type GatewayOptions } from './gateway/gateway.ts';
import { ControlMetrics } from './metrics/control-metrics.ts';
import { NodeSlots } from './workers/node-slots.ts';
import { createReconcileProcessor } from './workers/reconcile.ts';
import { createRegistryWatchProcessor } from './workers/registry-watch.ts';
import { createServerTaskProcessor } from './workers/server-task.ts';
import { createSyncProcessor, onSyncFailedForGood } from './workers/sync.ts';

export interface ControlConfig extends ServiceDepsConfig {
  host: string;
  port: number;
  maxConcurrentPulls: number;
  maxPullsPerNode: number;
  reconcileIntervalMs: number;
  registryWatchIntervalMs: number;
  heartbeatIntervalMs: number;
  syncStallTimeoutMs: number;
  /** How often convergence and rollouts are written down for the trends (default 30 s). */
  trendsIntervalMs?: number;
  /** How often running server tasks write their row (default 1 s; tests shorten it). */
  taskTickMs?: number;
  /** How often stale server tasks are swept (default 10 s). */
  taskSweepIntervalMs?: number;
  /** PEM certificate and key: the gateway serves https and wss instead of http and ws. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Overrides of the gateway's per-agent limits (tests). */
  gatewayLimits?: GatewayOptions['limits'];
  /**
   * Prometheus /metrics (README "Metrics"). `listen`: a listener of its own; otherwise, with a
   * `token`, on the gateway's port behind it; neither: no /metrics. The token is checked wherever
   * it is served when set.
   */
  metrics?: { token?: string | undefined; listen?: { host: string; port: number } | undefined; cacheMs?: number };
  log?: Logger;
}

export interface RunningControl {
  port: number;
  url: string;
  gateway: AgentGateway;
  metrics: ControlMetrics;
  /** The port of the metrics listener (CIDER_METRICS_LISTEN), when there is one. */
  metricsPort: number | undefined;
  close(): Promise<void>;
}

export async function startControl(config: ControlConfig): Promise<RunningControl> {
  const log = config.log ?? pino({ name: 'cider-control' });
  const { deps, redisReporter, close: closeDeps } = createServiceDeps({ ...config, log });
  // BullMQ workers and the command subscriber wait for Redis (maxRetriesPerRequest: null); their
  // connection errors go to the one outage report, not one log line per retry.
  const workerConnection = (): Redis => createRedisConnection(config.redisUrl, 'worker', redisReporter);
  const connections: Redis[] = [];
  const own = (redis: Redis) => {
    connections.push(redis);
    return redis;
  };
  const commands = new CommandBus(deps.redis, own(workerConnection()), config.redisPrefix);
  const outcomes = new SyncOutcomeRouter(own(workerConnection()), config.redisPrefix);
  const slots = new NodeSlots(deps.redis, config.redisPrefix, config.maxPullsPerNode);
  // Created before the gateway it counts the agents of: read at scrape time only.
  const gatewayRef: { current?: AgentGateway } = {};
  const metrics = new ControlMetrics({
    deps,
    log,
    connectedAgents: () => gatewayRef.current?.connectedNodes ?? 0,
    // Counters cost nothing to keep; the process metrics' monitors only run where someone scrapes them.
    processMetrics: Boolean(config.metrics?.token || config.metrics?.listen),
    ...(config.metrics?.cacheMs !== undefined ? { cacheMs: config.metrics.cacheMs } : {}),
  });
  const endpoint = metricsEndpoint(metrics, { token: config.metrics?.token, log });
  // Listening first: a taken address fails the start before any worker runs.
  let metricsServer: MetricsServer | undefined;
  if (config.metrics?.listen) {
    const { host, port } = config.metrics.listen;
    metricsServer = await startMetricsServer(endpoint, config.metrics.listen, log).catch((error: unknown) => {
      throw new Error(`CIDER_METRICS_LISTEN: cannot listen on ${host}:${port} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    });
    log.info({ host, port: metricsServer.port }, 'metrics at /metrics');
  } else if (config.metrics?.token) log.info('metrics at /metrics on the gateway port (bearer token)');

  // One consumer per entry of the job catalog, each payload parsed against it before its handler runs.
  const syncProcessor = createSyncProcessor({ deps, commands, outcomes, slots, log, stallTimeoutMs: config.syncStallTimeoutMs, recorder: metrics });
  const serverTasks = createServerTaskProcessor(deps, log, config.taskTickMs ? { tickMs: config.taskTickMs } : {});
  const consumers = createConsumers(
    {
      reconcile: { concurrency: 1, handle: createReconcileProcessor(deps, commands, log, metrics) },
      sync: { concurrency: config.maxConcurrentPulls, handle: syncProcessor.process },
      'registry-watch': { concurrency: 1, handle: createRegistryWatchProcessor(deps, log, metrics) },
      // Few at once: each streams gigabytes between Apple, a registry and a disk.
      'server-task': { concurrency: 2, handle: serverTasks.process },
    },
    { connection: () => own(workerConnection()) as ConnectionOptions, prefix: config.redisPrefix },
  );
  consumers.sync.on('failed', (job, error) => {
    log.warn({ job: job?.id, attempt: job?.attemptsMade, err: error.message }, 'sync attempt failed');
    void onSyncFailedForGood(deps, job, error).catch((e: unknown) => log.error({ err: e }, 'recording a failed sync job'));
  });
  // Their retries are the outage report's to tell; a job refused for good (a malformed payload) is told here.
  for (const name of ['reconcile', 'registry-watch', 'server-task'] as const) {
    consumers[name].on('failed', (job, error) => {
      if (error instanceof UnrecoverableError) log.warn({ job: job?.id, err: error.message }, `${name} job failed for good`);
    });
  }
  // Outages go to the outage report (a few lines each); a job whose Redis state vanished in one is
  // a warning (PostgreSQL's record stands and reconcile requeues it); anything else is an error.
  const reportError = (what: string) => (error: unknown) => {
    if (redisReporter.down || isRedisConnectionError(error)) redisReporter.failed(error, 'workers wait for it');
    else if (isLostJobStateError(error)) log.warn({ err: (error as Error).message }, 'a job lost its Redis state (Redis restarted or was flushed); reconcile queues it again');
    else log.error({ err: error }, what);
  };
  for (const worker of Object.values(consumers)) worker.on('error', reportError('worker error'));

  const gateway = new AgentGateway({
    deps,
    commands,
    log,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    tls: config.tls,
    limits: config.gatewayLimits,
    recorder: metrics,
    ...(config.metrics?.token && !config.metrics.listen ? { metrics: endpoint } : {}),
    async onNodeConnected(nodeId) {
      // Jobs that waited for this node run now rather than at their next recheck.
      const waiting = await deps.db.syncJob.findMany({ where: { nodeId, state: { in: [...openStates] } } });
      for (const row of waiting) {
        const job = await deps.queues.queue('sync').getJob(syncJobKey(nodeId, row.digest));
        if (job && (await job.isDelayed())) await job.promote().catch(() => {});
      }
      await deps.queues.add('reconcile', { scope: 'node', id: nodeId, reason: 'agent connected' });
    },
  });
  gatewayRef.current = gateway;
  const port = await gateway.listen(config.port, config.host);

  // PostgreSQL is the truth: rebuild the queues from it now and every few minutes, so a Redis
  // flush or restart loses nothing. The timer lives in this process, not in Redis (a flushed
  // Redis would forget a BullMQ scheduler); job ids per interval collapse the ticks of several
  // control processes into one job.
  const tick = async () => {
    const slot = (interval: number) => Math.floor(Date.now() / interval);
    await deps.queues.add('reconcile', { scope: 'all', reason: 'periodic' }, { jobId: `reconcile-all-${slot(config.reconcileIntervalMs)}` });
    await deps.queues.add('registry-watch', { reason: 'periodic' }, { jobId: `registry-watch-${slot(config.registryWatchIntervalMs)}` });
    await deps.queues.queue('sync').setGlobalConcurrency(config.maxConcurrentPulls);
  };
  await deps.queues.add('reconcile', { scope: 'all', reason: 'control plane started' });
  await tick();
  const timer = setInterval(() => void tick().catch(reportError('periodic reconcile')), Math.min(config.reconcileIntervalMs, config.registryWatchIntervalMs));
  // A Redis that comes back may have come back empty (no persistence, a failover): rebuild its
  // queues from PostgreSQL now rather than at the next tick.
  deps.redis.on('ready', () => void tick().catch((error: unknown) => log.warn({ err: error }, 'reconcile after Redis came back')));
  // The trends' history (convergence samples, rollout start and end) is PostgreSQL's alone: a
  // plain timer, whose runs in several processes serialise on a lock and write nothing twice.
  let trendsRun: Promise<void> = Promise.resolve();
  const recordTrendsNow = () => {
    trendsRun = recordTrends(deps).then(() => undefined, reportError('recording trends'));
  };
  recordTrendsNow();
  const trendsTimer = setInterval(recordTrendsNow, config.trendsIntervalMs ?? 30_000);
  // Server tasks left running by a control process that died are failed ("start it again"), never left running.
  const sweepTasksNow = () => void serverTasks.sweep().catch(reportError('sweeping server tasks'));
  sweepTasksNow();
  const taskSweepTimer = setInterval(sweepTasksNow, config.taskSweepIntervalMs ?? 10_000);

  log.info({ port, host: config.host }, 'control plane listening');
  return {
    port,
    url: `${config.tls ? 'https' : 'http'}://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`,
    gateway,
    metrics,
    metricsPort: metricsServer?.port,
    async close() {
      clearInterval(timer);
      await metricsServer?.close();
      clearInterval(trendsTimer);
      clearInterval(taskSweepTimer);
      await trendsRun;
      // Server tasks run for many minutes: they end now, failed as interrupted, and say so.
      await serverTasks.interruptAll();
      await gateway.close();
      // Sync jobs last as long as a pull: rather than wait, leave them to the next control
      // process (they come back as stalled jobs and are dispatched again, which is idempotent).
      syncProcessor.abandonAll();
      await Promise.all([consumers.reconcile.close(), consumers.sync.close(true), consumers['registry-watch'].close(), consumers['server-task'].close(true)]);
      for (const redis of connections) redis.disconnect();
      await closeDeps();
    },
  };
}
