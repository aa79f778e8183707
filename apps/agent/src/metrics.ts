// The agent's optional local /metrics (CIDER_AGENT_METRICS_LISTEN, off by default): cache and disk
// bytes, bytes pulled by source (rate() of it is the pull throughput), verification failures and
// sync outcomes. The counters follow what the agent reports to the control plane (every report
// passes observe()), so the numbers here and on the dashboard tell one story. Labels come from
// fixed sets; no digests or job ids.
import { statfs } from 'node:fs/promises';
import type { AgentMessage } from '@cider/protocol';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';

/** Codes of a pull whose bytes failed verification against their digest or size. */
const verificationCodes: ReadonlySet<string> = new Set(['DIGEST_MISMATCH', 'SIZE_MISMATCH', 'CACHE_CORRUPT']);

export interface AgentMetricsSources {
  cacheDir(): string;
  cacheBytes(): number;
  connected(): boolean;
  runningSyncs(): number;
}

export class AgentMetrics {
  readonly registry = new Registry();
  private readonly pulledBytes: Counter<'source'>;
  private readonly verificationFailures: Counter<'source'>;
  private readonly syncs: Counter<'outcome'>;

  constructor(sources: AgentMetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'cider_agent_' });
    // prom-client names three gauges *_total, which Prometheus' conventions (and promtool) keep for counters.
    for (const name of ['active_handles_total', 'active_requests_total', 'active_resources_total']) this.registry.removeSingleMetric(`cider_agent_nodejs_${name}`);
    new Gauge({ name: 'cider_agent_connected', help: 'Whether the agent is connected to the control plane (1) or not (0)', registers, collect() {
      this.set(sources.connected() ? 1 : 0);
    } });
    new Gauge({ name: 'cider_agent_cache_bytes', help: 'Bytes of verified blobs in the cache', registers, collect() {
      this.set(sources.cacheBytes());
    } });
    new Gauge({ name: 'cider_agent_syncs_running', help: 'Sync jobs the agent is working on', registers, collect() {
      this.set(sources.runningSyncs());
    } });
    // Read at scrape time (a statfs each); a disk that cannot be read leaves them out of the scrape.
    const disk = (name: string, help: string, bytes: (fs: { blocks: number; bavail: number; bsize: number }) => number) =>
      new Gauge({ name, help, registers, async collect() {
        try {
          this.set(bytes(await statfs(sources.cacheDir())));
        } catch {
          this.reset();
        }
      } });
    disk('cider_agent_disk_free_bytes', "Bytes free (for this user) on the cache's disk", (fs) => fs.bavail * fs.bsize);
    disk('cider_agent_disk_total_bytes', "Size of the cache's disk in bytes", (fs) => fs.blocks * fs.bsize);
    this.pulledBytes = new Counter({ name: 'cider_agent_pulled_bytes_total', help: 'Bytes pulled into the cache for finished sync jobs, by source', labelNames: ['source'], registers });
    this.verificationFailures = new Counter({
      name: 'cider_agent_verification_failures_total',
      help: 'Data that failed verification: a peer that sent bad pieces (peer), or a pull from the registry or mirror whose digest or size did not match (origin)',
      labelNames: ['source'],
      registers,
    });
    this.syncs = new Counter({ name: 'cider_agent_syncs_total', help: 'Sync jobs the agent finished, by outcome', labelNames: ['outcome'], registers });
    for (const source of ['registry', 'mirror', 'peer']) this.pulledBytes.inc({ source }, 0);
    for (const source of ['peer', 'origin']) this.verificationFailures.inc({ source }, 0);
    for (const outcome of ['done', 'failed', 'cancelled']) this.syncs.inc({ outcome }, 0);
  }

  /** Counts what a report to the control plane says (called whether or not it can be sent now). */
  observe(message: AgentMessage): void {
    switch (message.type) {
      case 'sync.done': {
        this.syncs.inc({ outcome: 'done' });
        const sources = message.sources;
        if (!sources) return void this.pulledBytes.inc({ source: 'registry' }, message.bytesFetched);
        this.pulledBytes.inc({ source: 'registry' }, sources.registry);
        this.pulledBytes.inc({ source: 'mirror' }, sources.mirror);
        this.pulledBytes.inc({ source: 'peer' }, Object.values(sources.peers).reduce((a, b) => a + b, 0));
        return;
      }
      case 'sync.failed':
        this.syncs.inc({ outcome: 'failed' });
        if (verificationCodes.has(message.code)) this.verificationFailures.inc({ source: 'origin' });
        return;
      case 'sync.cancelled':
        this.syncs.inc({ outcome: 'cancelled' });
        return;
      case 'peer.bad':
        this.verificationFailures.inc({ source: 'peer' });
        return;
      default:
        return;
    }
  }

  scrape(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
