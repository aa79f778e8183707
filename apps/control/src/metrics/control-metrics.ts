// The control plane's Prometheus metrics. Counters and histograms are this process's (sum them
// over replicas); the fleet gauges come from PostgreSQL and the queue gauges from Redis, the same
// in every replica (take max, not sum). A scrape never fails and never waits long: PostgreSQL is
// asked at most every few seconds, both stores within a deadline, and when one is down the scrape
// answers with what it last knew plus cider_control_database_up / cider_control_redis_up = 0.
//
// Labels take values from fixed sets only (states, queue names, sources, error codes): never a
// node, digest, job or registry.
import { serviceOutage } from '@cider/api';
import { attentionKinds, fleetGauges, jobNames, missingReasons, syncJobStates, type FleetGauges, type ServiceDeps } from '@cider/api/services';
import type { OciErrorCode } from '@cider/oci';
import type { BytesBySource } from '@cider/protocol';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Every code an agent's failed pull can carry (the OCI library's, plus the agent's own INTERNAL). */
const failureCodes = [
  'INVALID_REFERENCE', 'INVALID_DIGEST', 'NOT_FOUND', 'UNAUTHORIZED', 'DENIED', 'DIGEST_MISMATCH', 'SIZE_MISMATCH', 'INVALID_RANGE',
  'MANIFEST_TOO_LARGE', 'INVALID_MANIFEST', 'UNSUPPORTED_MEDIA_TYPE', 'NO_MATCHING_PLATFORM', 'REGISTRY_ERROR', 'UNREACHABLE', 'STALLED',
  'TAG_IMMUTABLE', 'INSUFFICIENT_SPACE', 'CACHE_CORRUPT', 'CACHE_IO', 'BUSY', 'INVALID_IMAGE', 'INVALID_BUNDLE',
] as const satisfies readonly OciErrorCode[];
// Fails to compile when the OCI library gains a code this list lacks.
const everyCodeListed: Exclude<OciErrorCode, (typeof failureCodes)[number]> extends never ? true : never = true;
void everyCodeListed;

/** Codes that say the registry (or the way to it) refused or failed, rather than the node. */
const registryCodes: ReadonlySet<string> = new Set<OciErrorCode>([
  'NOT_FOUND', 'UNAUTHORIZED', 'DENIED', 'REGISTRY_ERROR', 'UNREACHABLE', 'STALLED', 'INVALID_RANGE', 'MANIFEST_TOO_LARGE', 'INVALID_MANIFEST', 'UNSUPPORTED_MEDIA_TYPE', 'NO_MATCHING_PLATFORM',
]);

/** An agent's code as a label: a known one, else OTHER (an agent can send any text). */
export function failureCodeLabel(code: string): string {
  return code === 'INTERNAL' || (failureCodes as readonly string[]).includes(code) ? code : 'OTHER';
}

/** Codes of a pull whose bytes failed verification against their digest or size. */
const verificationCodes: ReadonlySet<string> = new Set<OciErrorCode>(['DIGEST_MISMATCH', 'SIZE_MISMATCH', 'CACHE_CORRUPT']);

/** Running pulls whose last reported progress is remembered (to count the bytes between reports); past it the memory starts over. */
const maxTrackedPulls = 10_000;

export type ReconcileScope = 'all' | 'node' | 'project';

/** What the gateway and the workers tell the metrics; a no-op stands in where metrics are off. */
export interface ControlRecorder {
  /** A running pull's progress report: the bytes since its last one are counted. */
  syncProgress(jobId: string, bytesDone: number): void;
  /** An agent finished a pull; `sources` splits its bytes (older agents leave it out: all registry). */
  syncDone(jobId: string, bytesFetched: number, sources: BytesBySource | undefined): void;
  syncCancelled(jobId: string): void;
  syncFailed(jobId: string, code: string): void;
  /** An agent dropped a peer that sent bytes failing verification. */
  badPeer(): void;
  /** A sync job was handed to its agent; it had waited since `queuedAt`. */
  dispatched(queuedAt: Date): void;
  reconciled(scope: ReconcileScope, seconds: number): void;
  registryWatchErrors(count: number): void;
}

export const noRecorder: ControlRecorder = {
  syncProgress: () => {},
  syncDone: () => {},
  syncCancelled: () => {},
  syncFailed: () => {},
  badPeer: () => {},
  dispatched: () => {},
  reconciled: () => {},
  registryWatchErrors: () => {},
};

export interface ControlMetricsOptions {
  deps: ServiceDeps;
  log: Logger;
  /** Agents connected to this process's gateway. */
  connectedAgents(): number;
  /** How long PostgreSQL's answer is reused (default 10 s). */
  cacheMs?: number;
  /** How long a scrape waits for PostgreSQL or Redis (default 2 s). */
  timeoutMs?: number;
  /** Node's process metrics (CPU, memory, event loop, GC) too; only worth their upkeep when served (default true). */
  processMetrics?: boolean;
}

const queueStates = ['waiting', 'prioritized', 'delayed', 'active'] as const;

export class ControlMetrics implements ControlRecorder {
  readonly registry = new Registry();
  private readonly syncedBytes: Counter<'source'>;
  private readonly progressBytes: Counter;
  private readonly verificationFailures: Counter<'source'>;
  /** Each running pull's bytesDone at its last progress report. */
  private readonly pulls = new Map<string, number>();
  private readonly syncFailures: Counter<'code'>;
  private readonly registryErrors: Counter<'code'>;
  private readonly watchErrors: Counter;
  private readonly dispatchLatency: Histogram;
  private readonly reconcileDuration: Histogram<'scope'>;
  private readonly gauges: {
    databaseUp: Gauge;
    redisUp: Gauge;
    syncJobs: Gauge<'state'>;
    nodes: Gauge<'status'>;
    attention: Gauge<'kind'>;
    missing: Gauge<'reason'>;
    tagMoved: Gauge;
    queueJobs: Gauge<'queue' | 'state'>;
    queueOldest: Gauge<'queue'>;
  };
  private fleetAt = 0;
  private fleetRun: Promise<void> | undefined;
  private databaseWasUp = true;

  constructor(private readonly options: ControlMetricsOptions) {
    const registers = [this.registry];
    if (options.processMetrics ?? true) {
      collectDefaultMetrics({ register: this.registry, prefix: 'cider_control_' });
      // prom-client names three gauges *_total, which Prometheus' conventions (and promtool) keep for counters.
      for (const name of ['active_handles_total', 'active_requests_total', 'active_resources_total']) this.registry.removeSingleMetric(`cider_control_nodejs_${name}`);
    }
    new Gauge({
      name: 'cider_control_agents_connected',
      help: 'Agents connected to this control process',
      registers,
      collect() {
        this.set(options.connectedAgents());
      },
    });
    this.syncedBytes = new Counter({ name: 'cider_control_synced_bytes_total', help: 'Bytes agents reported pulling for finished sync jobs, by where they came from', labelNames: ['source'], registers });
    for (const source of ['registry', 'mirror', 'peer']) this.syncedBytes.inc({ source }, 0);
    this.progressBytes = new Counter({
      name: 'cider_control_sync_progress_bytes_total',
      help: 'Bytes running pulls reported fetching, from their progress reports (moves during a long pull, unlike synced_bytes)',
      registers,
    });
    this.verificationFailures = new Counter({
      name: 'cider_control_verification_failures_total',
      help: 'Data agents found failing verification: a peer dropped for bad pieces (peer), or a pull whose digest or size did not match (origin)',
      labelNames: ['source'],
      registers,
    });
    for (const source of ['peer', 'origin']) this.verificationFailures.inc({ source }, 0);
    this.syncFailures = new Counter({ name: 'cider_control_sync_failures_total', help: 'Failed sync attempts agents reported, by error code', labelNames: ['code'], registers });
    this.registryErrors = new Counter({ name: 'cider_control_registry_errors_total', help: 'Failed sync attempts whose error came from the registry or the way to it, by error code', labelNames: ['code'], registers });
    this.watchErrors = new Counter({ name: 'cider_control_registry_watch_errors_total', help: 'Tags the registry watch could not re-resolve', registers });
    this.dispatchLatency = new Histogram({
      name: 'cider_control_dispatch_latency_seconds',
      help: 'Time from a sync job being queued (or queued again) to its hand-over to the agent',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
      registers,
    });
    this.reconcileDuration = new Histogram({
      name: 'cider_control_reconcile_duration_seconds',
      help: 'Time a reconcile took, by scope (all nodes, one node, one project)',
      labelNames: ['scope'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.gauges = {
      databaseUp: new Gauge({ name: 'cider_control_database_up', help: 'Whether the last scrape could read PostgreSQL (1) or not (0: the fleet gauges are as last read)', registers }),
      redisUp: new Gauge({ name: 'cider_control_redis_up', help: 'Whether the last scrape could read the job queues in Redis (1) or not (0: the queue gauges are as last read)', registers }),
      syncJobs: new Gauge({ name: 'cider_control_sync_jobs', help: 'Sync jobs by state (PostgreSQL, every replica reports the same)', labelNames: ['state'], registers }),
      nodes: new Gauge({ name: 'cider_control_nodes', help: 'Enrolled, unrevoked nodes by status', labelNames: ['status'], registers }),
      attention: new Gauge({ name: 'cider_control_nodes_attention', help: "Nodes in each of the overview's needs-attention groups", labelNames: ['kind'], registers }),
      missing: new Gauge({
        name: 'cider_control_pinned_images_missing',
        help: 'Pinned images nodes do not hold yet, by why (offline node, sync open, last sync failed, drift: nobody fetching)',
        labelNames: ['reason'],
        registers,
      }),
      tagMoved: new Gauge({ name: 'cider_control_pins_tag_moved', help: 'Frozen pins whose tag moved upstream (drift from the registry)', registers }),
      queueJobs: new Gauge({ name: 'cider_control_queue_jobs', help: 'Jobs in the BullMQ queues by state', labelNames: ['queue', 'state'], registers }),
      queueOldest: new Gauge({ name: 'cider_control_queue_oldest_waiting_age_seconds', help: 'Age of the oldest job waiting for a worker (0 when none waits)', labelNames: ['queue'], registers }),
    };
  }

  syncProgress(jobId: string, bytesDone: number): void {
    const last = this.pulls.get(jobId) ?? 0;
    // A retried attempt starts again from 0: its bytes count again, they crossed the network again.
    if (bytesDone > last) this.progressBytes.inc(bytesDone - last);
    if (!this.pulls.has(jobId) && this.pulls.size >= maxTrackedPulls) this.pulls.clear();
    this.pulls.set(jobId, bytesDone);
  }

  syncCancelled(jobId: string): void {
    this.pulls.delete(jobId);
  }

  badPeer(): void {
    this.verificationFailures.inc({ source: 'peer' });
  }

  syncDone(jobId: string, bytesFetched: number, sources: BytesBySource | undefined): void {
    this.pulls.delete(jobId);
    if (!sources) {
      this.syncedBytes.inc({ source: 'registry' }, bytesFetched);
      return;
    }
    const peers = Object.values(sources.peers).reduce((a, b) => a + b, 0);
    this.syncedBytes.inc({ source: 'registry' }, sources.registry);
    this.syncedBytes.inc({ source: 'mirror' }, sources.mirror);
    this.syncedBytes.inc({ source: 'peer' }, peers);
  }

  syncFailed(jobId: string, code: string): void {
    this.pulls.delete(jobId);
    if (verificationCodes.has(code)) this.verificationFailures.inc({ source: 'origin' });
    const label = failureCodeLabel(code);
    this.syncFailures.inc({ code: label });
    if (registryCodes.has(label)) this.registryErrors.inc({ code: label });
  }

  dispatched(queuedAt: Date): void {
    this.dispatchLatency.observe(Math.max(0, (Date.now() - queuedAt.getTime()) / 1000));
  }

  reconciled(scope: ReconcileScope, seconds: number): void {
    this.reconcileDuration.observe({ scope }, seconds);
  }

  registryWatchErrors(count: number): void {
    if (count > 0) this.watchErrors.inc(count);
  }

  /** The exposition text; reads PostgreSQL (cached) and Redis first, and never throws for either. */
  async scrape(): Promise<string> {
    await Promise.all([this.refreshFleet(), this.refreshQueues()]);
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private refreshFleet(): Promise<void> {
    if (Date.now() - this.fleetAt < (this.options.cacheMs ?? 10_000)) return Promise.resolve();
    // Concurrent scrapes share one read.
    this.fleetRun ??= this.readFleet().finally(() => (this.fleetRun = undefined));
    return this.fleetRun;
  }

  private async readFleet(): Promise<void> {
    try {
      const fleet = await deadline(fleetGauges(this.options.deps), this.timeoutMs, 'PostgreSQL');
      this.setFleet(fleet);
      this.fleetAt = Date.now();
      this.gauges.databaseUp.set(1);
      if (!this.databaseWasUp) this.options.log.info('metrics: PostgreSQL answers again');
      this.databaseWasUp = true;
    } catch (error) {
      this.gauges.databaseUp.set(0);
      if (this.databaseWasUp) {
        // Prisma's messages run over many lines; the outage's own words say it in one.
        const reason = serviceOutage(error)?.message ?? (error as Error).message.trim().split('\n').pop();
        this.options.log.warn({ reason }, 'metrics: cannot read PostgreSQL; serving the fleet gauges as last read');
      }
      this.databaseWasUp = false;
    }
  }

  private setFleet(fleet: FleetGauges): void {
    for (const state of syncJobStates) this.gauges.syncJobs.set({ state }, fleet.syncJobs[state]);
    this.gauges.nodes.set({ status: 'online' }, fleet.nodes.online);
    this.gauges.nodes.set({ status: 'offline' }, fleet.nodes.offline);
    for (const kind of attentionKinds) this.gauges.attention.set({ kind }, fleet.attention[kind]);
    for (const reason of missingReasons) this.gauges.missing.set({ reason }, fleet.missing[reason]);
    this.gauges.tagMoved.set(fleet.tagMoved);
  }

  private async refreshQueues(): Promise<void> {
    try {
      const read = Promise.all(
        jobNames.map(async (name) => {
          const queue = this.options.deps.queues.queue(name);
          const [counts, oldest] = await Promise.all([queue.getJobCounts(...queueStates), queue.getJobs(['waiting', 'prioritized'], 0, 0, true)]);
          return { name, counts, oldest: oldest[0]?.timestamp };
        }),
      );
      const queues = await deadline(read, this.timeoutMs, 'Redis');
      for (const { name, counts, oldest } of queues) {
        for (const state of queueStates) this.gauges.queueJobs.set({ queue: name, state }, counts[state] ?? 0);
        this.gauges.queueOldest.set({ queue: name }, oldest ? Math.max(0, (Date.now() - oldest) / 1000) : 0);
      }
      this.gauges.redisUp.set(1);
    } catch {
      // Redis outages have their own report in the log; the gauge says it here.
      this.gauges.redisUp.set(0);
    }
  }

  private get timeoutMs(): number {
    return this.options.timeoutMs ?? 2_000;
  }
}

function deadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  // A late answer's rejection must not become an unhandled one.
  work.catch(() => {});
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}
