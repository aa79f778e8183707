// The peers of one sync job, as the control plane planned them (the dispatch's `peers`, renewed by
// `peers`): the HTTP clients the swarm reads through, the bytes each fed us, and the messages the
// swarm's events become (`peer.bad`, `peers.renew`). Candidates are asked for again a few times
// early (nodes dispatched later are fetching too by then) and then every minute, so tickets, which
// last minutes, never run out during a long pull.
import { PeerClient, type PeerLink, type SwarmOptions } from '@cider/oci';
import type { AgentMessage, BytesBySource, PeerPlan } from '@cider/protocol';
import type { Logger } from 'pino';

export interface JobPeersOptions {
  jobId: string;
  /** This node's id: the reader every ticket names, and the key that spreads registry pieces. */
  readerId: string;
  plan: PeerPlan;
  send(message: AgentMessage): void;
  log: Logger;
  /**
   * When fresh candidates (and tickets) are asked for while the job runs, in ms from its start:
   * early and often at first, since a plan made at dispatch cannot name the nodes dispatched after
   * it (two origins must learn of each other to split the registry's pieces), then every
   * `renewEveryMs` (default 60 s; tickets last 10 min).
   */
  renewAtMs?: readonly number[];
  renewEveryMs?: number;
}

const defaultRenewAtMs = [3_000, 10_000, 30_000];

/** peers.renew at most this often, whatever the swarm asks. */
const minRenewGapMs = 2_000;

export class JobPeers {
  private clients: PeerClient[] = [];
  private readonly retired: PeerClient[] = [];
  private origin: boolean;
  private readonly fed = new Map<string, number>();
  private lastRenew = 0;
  private renewTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: JobPeersOptions) {
    this.origin = options.plan.origin;
    this.update(options.plan);
    this.scheduleRenewal(0, 0);
  }

  private scheduleRenewal(step: number, elapsed: number): void {
    if (this.closed) return;
    const at = this.options.renewAtMs ?? defaultRenewAtMs;
    const next = step < at.length ? at[step]! : elapsed + (this.options.renewEveryMs ?? 60_000);
    this.renewTimer = setTimeout(() => {
      this.renew();
      this.scheduleRenewal(step + 1, next);
    }, Math.max(0, next - elapsed));
    this.renewTimer.unref();
  }

  /**
   * A renewed plan: new clients (fresh tickets) replace the old; the old ones close with the job.
   * Its `origin` is followed either way: the control plane makes a node an origin when another
   * died, and stops a node others reported for bad data from fetching for nobody.
   */
  update(plan: PeerPlan): void {
    this.origin = plan.origin;
    this.retired.push(...this.clients);
    this.clients = plan.candidates.map(
      (candidate) => new PeerClient({ id: candidate.nodeId, name: candidate.name, urls: candidate.urls, ticket: candidate.ticket, readerId: this.options.readerId }),
    );
    this.options.log.debug({ peers: plan.candidates.map((c) => c.name), origin: this.origin }, 'peer candidates');
  }

  get swarm(): SwarmOptions {
    const origin = () => this.origin;
    return {
      peers: () => this.clients,
      // Read when the swarm decides, so a renewed plan that makes this node an origin counts.
      get origin() {
        return origin();
      },
      spreadKey: this.options.readerId,
      onBadPeer: (peer: PeerLink, digest: string, reason: string) => {
        this.options.log.warn({ peer: peer.name, digest }, `dropped a peer that sent bad data: ${reason}`);
        this.options.send({ type: 'peer.bad', jobId: this.options.jobId, nodeId: peer.id, digest, reason: reason.slice(0, 500) });
      },
      onPeersNeeded: () => this.renew(),
      onSourceBytes: (source, bytes) => {
        if (source !== 'registry') this.fed.set(source.id, (this.fed.get(source.id) ?? 0) + bytes);
      },
    };
  }

  /**
   * Bytes by source for sync.done: what peers fed, what the site's mirror fed (it stands in for
   * the registry, ../mirror.ts), and the rest of what came over the network from the registry.
   */
  sources(bytesFetched: number, mirrorBytes = 0): BytesBySource {
    const peers = Object.fromEntries([...this.fed].slice(0, 64));
    const fromPeers = [...this.fed.values()].reduce((a, b) => a + b, 0);
    const mirror = Math.min(mirrorBytes, Math.max(0, bytesFetched - fromPeers));
    return { registry: Math.max(0, bytesFetched - fromPeers - mirror), mirror, peers };
  }

  private renew(): void {
    const now = Date.now();
    if (now - this.lastRenew < minRenewGapMs) return;
    this.lastRenew = now;
    this.options.send({ type: 'peers.renew', jobId: this.options.jobId });
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.renewTimer);
    for (const client of [...this.clients, ...this.retired]) client.close();
    this.clients = [];
    this.retired.length = 0;
  }
}
