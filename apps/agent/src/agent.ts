// The agent daemon: keeps one outbound WebSocket to the control plane (reconnecting with
// backoff), reports facts and inventory, and pulls what sync jobs ask for into the host cache.
// Every message handler catches its own errors: nothing the control plane (or something posing
// as it) sends can stop the agent.
import {
  agentPath,
  CloseCode,
  controlMessage,
  decode,
  encode,
  maxFrameBytes,
  maxReportedPieces,
  protocolVersion,
  type AgentMessage,
  type ControlMessage,
  type HeldImage,
  type HostFacts,
  type NodeCondition,
  type PiecesProgress,
} from '@cider/protocol';
import { metricsEndpoint, startMetricsServer, type MetricsServer } from '@cider/protocol/metrics-endpoint';
import {
  formatBytes,
  countPieces,
  HostCache,
  InsufficientSpaceError,
  isOciError,
  parseReference,
  pull,
  RegistryClient,
  RenewableCredential,
  type CachedImage,
  type RegistryClientOptions,
} from '@cider/oci';
import type { Logger } from 'pino';
import WebSocket from 'ws';
import { cancelledBy, JobCancelled, RecentCancels } from './cancellations.ts';
import { ImageBlobs, JobPeers, peerAddresses, startPeerServer, type PeerServer } from './peer/index.ts';
import type { AgentConfig } from './config.ts';
import { GrantRenewals, openGrant } from './job-grants.ts';
import { AgentMetrics } from './metrics.ts';
import { JobMirror, pullThrough } from './mirror.ts';
import { enforceQuota, makeRoom, purgeCache, type Eviction } from './eviction.ts';
import { printable } from './printable.ts';
import { collectFacts, defaultOsVersionSource, spaceConditions, type OsVersionSource } from './facts.ts';
import { storeRotatedSecret } from './secret-rotation.ts';
import { assertSecureServer } from './transport-policy.ts';
import agentPackage from '../package.json' with { type: 'json' };

/** The version agents report in hello: the package's own, so a release bump is the only place to change it. */
export const agentVersion: string = agentPackage.version;

export interface AgentOptions {
  config: AgentConfig;
  /** Where the config lives: a rotated secret is stored there. */
  configPath?: string;
  log: Logger;
  osVersions?: OsVersionSource;
  registryClientOptions?: Partial<RegistryClientOptions>;
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  progressIntervalMs?: number;
  /** Bytes a pull leaves free on the cache's disk (default 256 MiB). */
  headroomBytes?: number;
  /** How long a pull waits for a renewed registry grant (default 30 s). */
  grantRenewTimeoutMs?: number;
  /** Serve verified blobs to other agents (issue 10); off when absent. Starts once a welcome brings the ticket key. */
  peer?: PeerSettings;
  /** A local Prometheus /metrics (CIDER_AGENT_METRICS_LISTEN); off when absent. */
  metrics?: MetricsSettings;
}

export interface MetricsSettings {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Bearer token scrapes must send (CIDER_AGENT_METRICS_TOKEN); none: anyone who can reach the address. */
  token?: string;
}

export interface PeerSettings {
  /** Address to listen on: '::' or '0.0.0.0' for every interface, or one address (each simulated Mac in tests has its own 127.0.0.x). */
  host: string;
  /** 0 picks a free port. */
  port: number;
  maxConcurrentUploads: number;
  /** Shared by all uploads; 0 = unlimited. */
  maxUploadBytesPerSecond: number;
  /** The --tamper-peer fault drill (CIDER_PEER_TAMPER=1): serve corrupted bytes. Never in production. */
  tamper?: boolean;
}

/**
 * Which pieces of the image's layer being fetched piece by piece this node has verified (from the
 * cache's piece board), for the tracker; undefined when no layer of it is (a registry-only pull).
 */
export function piecesProgressOf(cache: HostCache, blobs: readonly string[]): PiecesProgress | undefined {
  for (const blob of blobs) {
    const partial = cache.pieces.get(blob);
    if (!partial) continue;
    return {
      digest: partial.digest,
      done: countPieces(partial.verified, partial.count),
      total: partial.count,
      ...(partial.count <= maxReportedPieces ? { bits: Buffer.from(partial.verified).toString('base64') } : {}),
    };
  }
  return undefined;
}

/** Bytes of error text kept from a refused WebSocket upgrade. */
const maxRefusalBody = 4096;

export function heldImageOf(image: CachedImage): HeldImage {
  return {
    digest: image.digest,
    ...(image.reference ? { reference: image.reference } : {}),
    tags: image.tags,
    sizeBytes: image.size,
    verifiedAt: image.pulledAt ?? new Date().toISOString(),
    ...(image.lastUsedAt ? { lastUsedAt: image.lastUsedAt } : {}),
  };
}

interface RunningJob {
  digest: string;
  abort: AbortController;
}

/** What the control plane is told when a pull does not fit: the words the dashboard shows. */
export function insufficientSpaceMessage(error: InsufficientSpaceError): string {
  return `Disk full: needs ${formatBytes(error.needed)}, ${formatBytes(error.available)} free in ${error.path}. Free space on this node or unpin images; the node tries again once there is room.`;
}

export class Agent {
  private socket: WebSocket | undefined;
  private cache: HostCache | undefined;
  private stopping = false;
  private reconnectAttempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private readonly jobs = new Map<string, RunningJob>();
  private readonly pulls = new Map<string, Promise<void>>();
  private readonly cancels = new RecentCancels();
  private pinned = new Set<string>();
  private peerServer: { server: PeerServer; key: string } | undefined;
  private peerStarting: Promise<void> | undefined;
  /** The peers of running jobs, by job id. */
  private readonly jobPeers = new Map<string, JobPeers>();
  /** Blobs of the images held or being pulled, for tickets that name an image. */
  private readonly imageBlobs = new ImageBlobs(() => this.cache);
  private cacheBytes = 0;
  private readonly osVersions: OsVersionSource;
  private connectedListeners: (() => void)[] = [];
  /** Pulls waiting for a renewed registry grant, by job id. */
  private readonly grants: GrantRenewals;
  private currentConfig: AgentConfig;
  /** Present when metrics are on; every report to the control plane is counted by it. */
  private readonly metrics: AgentMetrics | undefined;
  private metricsServer: MetricsServer | undefined;
  readonly log: Logger;

  constructor(private readonly options: AgentOptions) {
    this.log = options.log;
    this.osVersions = options.osVersions ?? defaultOsVersionSource();
    this.currentConfig = options.config;
    this.metrics = options.metrics
      ? new AgentMetrics({ cacheDir: () => this.config.cacheDir, cacheBytes: () => this.cacheBytes, connected: () => this.connected, runningSyncs: () => this.jobs.size })
      : undefined;
    this.grants = new GrantRenewals({
      keys: () => this.config,
      send: (message) => this.send(message),
      connected: () => this.connected,
      log: this.log,
      timeoutMs: options.grantRenewTimeoutMs ?? 30_000,
    });
  }

  get config(): AgentConfig {
    return this.currentConfig;
  }

  get connected(): boolean {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  /**
   * Checks the control plane's address (TLS unless loopback or --insecure) and the cache
   * directory (ours, writable by no one else), opens the cache and starts connecting.
   */
  async start(): Promise<void> {
    assertSecureServer(this.config.server, this.config.insecure);
    this.cache = await HostCache.open(this.config.cacheDir);
    this.cacheBytes = await this.cache.blobBytes();
    if (this.options.metrics && this.metrics) {
      const { host, port, token } = this.options.metrics;
      this.metricsServer = await startMetricsServer(metricsEndpoint(this.metrics, { token, log: this.log }), { host, port }, this.log).catch((error: unknown) => {
        throw new Error(`cannot serve metrics on ${host}:${port} (${(error as NodeJS.ErrnoException).code ?? String(error)}); pick another CIDER_AGENT_METRICS_LISTEN`);
      });
      this.log.info({ host, port: this.metricsServer.port }, 'metrics at /metrics');
    }
    this.connect();
  }

  /** The port of the local /metrics listener, when metrics are on. */
  get metricsPort(): number | undefined {
    return this.metricsServer?.port;
  }

  /** Resolves at the next welcome from the control plane. */
  whenConnected(): Promise<void> {
    return new Promise((resolve) => this.connectedListeners.push(resolve));
  }

  private wsUrl(): string {
    const url = new URL(agentPath, this.config.server);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    return url.toString();
  }

  private connect(): void {
    if (this.stopping) return;
    const socket = new WebSocket(this.wsUrl(), {
      headers: { authorization: `Bearer ${this.config.nodeId}.${this.config.secret}` },
      handshakeTimeout: 15_000,
      maxPayload: maxFrameBytes,
    });
    this.socket = socket;
    socket.on('open', () => void this.hello(socket));
    socket.on('message', (data) => this.onMessage(data.toString()));
    socket.on('unexpected-response', (_req, res) => {
      const status = res.statusCode ?? 0;
      let body = '';
      res.on('data', (chunk: Buffer) => {
        if (body.length < maxRefusalBody) body += chunk.toString().slice(0, maxRefusalBody - body.length);
      });
      res.on('error', () => {});
      res.on('end', () => {
        const reason = printable(body, 500);
        if (status === 401 || status === 403) {
          this.log.error({ status }, `The control plane refused this node: ${reason || 'unauthorized'}. Enroll again with cider-agent enroll.`);
        } else this.log.warn({ status }, 'control plane refused the connection');
      });
      socket.terminate();
    });
    socket.on('error', (error) => this.log.warn({ err: error.message, server: this.config.server }, 'control plane connection error'));
    socket.on('close', (code, reason) => {
      clearInterval(this.heartbeatTimer);
      if (this.socket === socket) this.socket = undefined;
      // A grant asked for on this socket can only arrive on it: the pulls waiting give up now.
      this.grants.abandonAll();
      if (this.stopping) return;
      if (code === CloseCode.replaced) this.log.warn('another agent connected as this node; reconnecting');
      else if (code === CloseCode.secretRotated) {
        // The new secret is stored: reconnect with it at once.
        this.log.info('node secret rotated; reconnecting with the new one');
        this.reconnectAttempt = 0;
      } else if (code !== 1006) this.log.info({ code, reason: reason.toString().slice(0, 200) }, 'disconnected from the control plane');
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    const base = this.options.reconnectBaseMs ?? 1_000;
    const max = this.options.reconnectMaxMs ?? 30_000;
    const ceiling = Math.min(max, base * 2 ** this.reconnectAttempt++);
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  private send(message: AgentMessage): void {
    this.metrics?.observe(message);
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(encode(message));
  }

  /** Host facts, with the node's standing conditions (pulls refused for want of space). */
  async facts(): Promise<HostFacts> {
    const conditions: NodeCondition[] = this.cache ? spaceConditions(await this.cache.space.standing()) : [];
    const facts = await collectFacts(this.config.cacheDir, this.cacheBytes, this.config.quotaBytes, this.osVersions, conditions);
    const peer = this.peer;
    return peer ? { ...facts, peer } : facts;
  }

  private async sendHeartbeat(): Promise<void> {
    try {
      this.send({ type: 'heartbeat', facts: await this.facts() });
    } catch (error) {
      this.log.warn({ err: error }, 'could not collect host facts');
    }
  }

  async inventory(): Promise<HeldImage[]> {
    const images = await this.cache!.listImages();
    return images.map(heldImageOf);
  }

  private async hello(socket: WebSocket): Promise<void> {
    try {
      const message: AgentMessage = {
        type: 'hello',
        protocol: protocolVersion,
        agentVersion,
        publicKey: this.config.publicKey,
        facts: await this.facts(),
        images: await this.inventory(),
        activeJobs: [...this.jobs.keys()],
      };
      if (socket.readyState === WebSocket.OPEN) socket.send(encode(message));
    } catch (error) {
      this.log.error({ err: error }, 'could not prepare hello');
      socket.close();
    }
  }

  private onMessage(raw: string): void {
    const decoded = decode(controlMessage, raw);
    if (!decoded.ok) {
      this.log.warn({ error: decoded.error }, 'malformed message from the control plane');
      return;
    }
    void this.handle(decoded.value).catch((error: unknown) => this.log.error({ err: error }, 'handling a control plane message failed'));
  }

  private async handle(message: ControlMessage): Promise<void> {
    switch (message.type) {
      case 'welcome': {
        this.reconnectAttempt = 0;
        this.pinned = new Set(message.pinned);
        this.cache?.space.retainOnly(this.pinned);
        clearInterval(this.heartbeatTimer);
        this.heartbeatTimer = setInterval(() => void this.sendHeartbeat(), message.heartbeatIntervalMs);
        this.log.info({ node: message.nodeName }, 'connected to the control plane');
        // Jobs cancelled (or finished) while this agent was away.
        for (const jobId of message.drop) this.cancel(jobId, 'cancelled while this agent was away');
        for (const listener of this.connectedListeners.splice(0)) listener();
        if (message.peerTicketKey) await this.servePeers(message.peerTicketKey);
        await this.applyQuota();
        return;
      }
      case 'pinned':
        this.pinned = new Set(message.digests);
        this.cache?.space.retainOnly(this.pinned);
        await this.applyQuota();
        return;
      case 'sync':
        return this.sync(message);
      case 'cancel':
        this.cancel(message.jobId, message.reason);
        return;
      case 'grant':
        this.grants.deliver(message.jobId, message.registry);
        return;
      case 'peers':
        this.jobPeers.get(message.jobId)?.update(message.peers);
        return;
      case 'secret':
        this.currentConfig = await storeRotatedSecret(this.config, this.options.configPath, message.sealed);
        this.log.info('stored the rotated node secret');
        this.send({ type: 'secret.stored' });
        return;
      case 'purge':
        return this.purge(message.reason);
      case 'error':
        this.log.error({ code: message.code }, message.message);
        return;
    }
  }

  /** The node was decommissioned with its cache purged: every pull stops, then every image goes. */
  private async purge(reason: string): Promise<void> {
    this.pinned = new Set();
    this.cache?.space.retainOnly(this.pinned);
    const pulls = [...this.pulls.values()];
    for (const jobId of [...this.jobs.keys()]) this.cancel(jobId, reason);
    await Promise.allSettled(pulls);
    if (!this.cache) return;
    const evictions = await purgeCache(this.cache, `cache purged: ${reason}`);
    this.log.warn({ images: evictions.length }, `cache purged: ${reason}`);
    this.reportEvictions(evictions);
    this.cacheBytes = await this.cache.blobBytes();
  }

  /** Stops a job's pull (it confirms once stopped); a job not running here is confirmed at once. */
  private cancel(jobId: string, reason: string): void {
    this.cancels.remember(jobId);
    const running = this.jobs.get(jobId);
    if (running) running.abort.abort(new JobCancelled(reason));
    else this.send({ type: 'sync.cancelled', jobId });
  }

  private async sync(job: Extract<ControlMessage, { type: 'sync' }>): Promise<void> {
    if (this.cancels.has(job.jobId)) {
      this.send({ type: 'sync.cancelled', jobId: job.jobId });
      return;
    }
    const held = (await this.cache!.listImages()).find((i) => i.digest === job.digest);
    if (held) {
      this.send({ type: 'sync.done', jobId: job.jobId, digest: job.digest, image: heldImageOf(held), bytesFetched: 0 });
      return;
    }
    if (this.jobs.has(job.jobId)) return; // already on it (re-sent after a reconnect)
    const abort = new AbortController();
    this.jobs.set(job.jobId, { digest: job.digest, abort });
    this.send({ type: 'sync.progress', jobId: job.jobId, phase: 'queued', bytesDone: 0, bytesTotal: 0 });
    const log = this.log.child({ jobId: job.jobId, digest: job.digest });
    const peers = job.peers ? new JobPeers({ jobId: job.jobId, readerId: this.config.nodeId, plan: job.peers, send: (message) => this.send(message), log }) : undefined;
    if (peers) this.jobPeers.set(job.jobId, peers);
    const mirror = job.mirror ? new JobMirror({ jobId: job.jobId, access: job.mirror, keys: this.config, registryClientOptions: this.options.registryClientOptions, log }) : undefined;
    try {
      // Two jobs for one digest share one download.
      let running = this.pulls.get(job.digest);
      let bytesFetched = 0;
      if (!running) {
        running = this.runPull(job, abort.signal, (fetched) => (bytesFetched = fetched), peers, mirror);
        this.pulls.set(job.digest, running);
      }
      await running;
      const image = (await this.cache!.listImages()).find((i) => i.digest === job.digest);
      if (!image) throw new Error(`the pull finished but ${job.digest} is not in the cache index`);
      this.cacheBytes = await this.cache!.blobBytes();
      log.info({ bytesFetched }, 'image synced');
      this.send({ type: 'sync.done', jobId: job.jobId, digest: job.digest, image: heldImageOf(image), bytesFetched, ...(peers ? { sources: peers.sources(bytesFetched, mirror?.bytes) } : mirror ? { sources: mirror.sources(bytesFetched) } : {}) });
      this.send({ type: 'inventory', images: await this.inventory(), reason: 'pulled' });
      await this.applyQuota();
    } catch (error) {
      if (this.stopping) return; // the next agent run resumes it; no failure to report
      if (cancelledBy(abort.signal)) {
        log.info('sync cancelled; partial data kept for a later resume');
        this.send({ type: 'sync.cancelled', jobId: job.jobId });
        return;
      }
      if (error instanceof InsufficientSpaceError) {
        // Facts first: the control plane holds the condition before it sees the failure, so its
        // next reconcile does not queue the digest again while the disk lacks the room.
        log.warn({ neededBytes: error.needed, freeBytes: error.available }, 'sync refused: not enough disk');
        await this.sendHeartbeat();
        this.send({
          type: 'sync.failed',
          jobId: job.jobId,
          code: 'INSUFFICIENT_SPACE',
          message: insufficientSpaceMessage(error),
          retryable: false,
          space: { neededBytes: error.needed, freeBytes: error.available },
        });
        return;
      }
      const code = isOciError(error) ? error.code : 'INTERNAL';
      const message = error instanceof Error ? error.message : String(error);
      // The library decided, where the error was made, whether trying again can help; anything
      // else (a bug, the disk) is worth another attempt.
      const retryable = isOciError(error) ? error.retryable : true;
      log.warn({ code, retryable }, `sync failed: ${message}`);
      this.send({ type: 'sync.failed', jobId: job.jobId, code, message, retryable });
    } finally {
      peers?.close();
      await mirror?.close().catch(() => {});
      this.jobPeers.delete(job.jobId);
      this.jobs.delete(job.jobId);
      if (this.pulls.get(job.digest) && ![...this.jobs.values()].some((j) => j.digest === job.digest)) this.pulls.delete(job.digest);
    }
  }

  private async runPull(job: Extract<ControlMessage, { type: 'sync' }>, signal: AbortSignal, onFetched: (bytes: number) => void, peers: JobPeers | undefined, mirror?: JobMirror): Promise<void> {
    const { registry } = job;
    const credentials = new RenewableCredential(registry.host, openGrant(this.config, job.jobId, registry), () => this.grants.renew(job.jobId, registry.host));
    const client = new RegistryClient({
      ...this.options.registryClientOptions,
      credentials,
      plainHttp: registry.plainHttp ? [registry.host] : false,
    });
    // Exactly the digest the job names; the tag is kept for the cache's index.
    const reference = { ...parseReference(job.reference), digest: job.digest as `sha256:${string}` };
    let lastSent = 0;
    /** The image's blobs, once the pull has its manifest: the one being fetched piece by piece is reported. */
    let blobs: readonly string[] = [];
    const interval = this.options.progressIntervalMs ?? 500;
    const attempt = () =>
      pullThrough(mirror, client, reference, signal, (from) => pull({
        ...from,
        cache: this.cache!,
        reference,
        signal,
        headroomBytes: this.options.headroomBytes,
        ...(peers ? { swarm: peers.swarm } : {}),
        onManifest: (manifest) => {
          this.imageBlobs.note(manifest);
          blobs = manifest.blobs;
        },
        onProgress: (progress) => {
          onFetched(progress.bytesFetched);
          const now = Date.now();
          if (now - lastSent < interval && progress.phase === 'downloading') return;
          lastSent = now;
          const pieces = piecesProgressOf(this.cache!, blobs);
          this.send({ type: 'sync.progress', jobId: job.jobId, phase: progress.phase, bytesDone: progress.bytesDone, bytesTotal: progress.bytesTotal, ...(pieces ? { pieces } : {}) });
        },
      }));
    try {
      try {
        await attempt();
      } catch (error) {
        if (!(error instanceof InsufficientSpaceError)) throw error;
        // Make room from unpinned images (least recently used first), then try once more;
        // if nothing could go, the pull is refused with the disk's numbers.
        const evicted = await makeRoom(this.cache!, error.needed, this.pinned, this.busyDigests());
        this.reportEvictions(evicted);
        if (evicted.length === 0) throw error;
        this.send({ type: 'inventory', images: await this.inventory(), reason: 'evicted to make room' });
        await attempt();
      }
    } finally {
      await client.close();
    }
  }

  /** Digests a pull in progress is taking: never evicted. */
  private busyDigests(): Set<string> {
    return new Set([...this.jobs.values()].map((j) => j.digest));
  }

  private reportEvictions(evictions: Eviction[]): void {
    for (const eviction of evictions) {
      this.log.info({ digest: eviction.digest, freedBytes: eviction.freedBytes }, `evicted: ${eviction.reason}`);
      this.send({ type: 'eviction', ...eviction });
    }
  }

  /** Keeps the cache within its quota, evicting unpinned images least recently used first. */
  async applyQuota(): Promise<Eviction[]> {
    if (!this.config.quotaBytes || !this.cache) return [];
    const evictions = await enforceQuota(this.cache, this.config.quotaBytes, this.pinned, this.busyDigests());
    if (evictions.length > 0) {
      this.reportEvictions(evictions);
      this.cacheBytes = await this.cache.blobBytes();
      this.send({ type: 'inventory', images: await this.inventory(), reason: 'evicted over quota' });
    }
    return evictions;
  }

  /**
   * Starts the peer server with the control plane's ticket key (again, on the same port, if the
   * key changed: the control plane's secret was rotated). Never throws: a port in use is logged and
   * the agent goes on without serving peers.
   */
  private async servePeers(key: string): Promise<void> {
    const settings = this.options.peer;
    if (!settings || !this.cache || this.stopping) return;
    await this.peerStarting;
    if (this.peerServer?.key === key) return;
    this.peerStarting = (async () => {
      const previous = this.peerServer;
      this.peerServer = undefined;
      await previous?.server.close();
      try {
        const server = await startPeerServer({
          cache: this.cache!,
          nodeId: this.config.nodeId,
          publicKey: key,
          host: settings.host,
          port: previous?.server.port ?? settings.port,
          maxConcurrentUploads: settings.maxConcurrentUploads,
          maxUploadBytesPerSecond: settings.maxUploadBytesPerSecond,
          log: this.log,
          imageBlobs: (image) => this.imageBlobs.lookup(image),
          ...(settings.tamper ? { tamper: true } : {}),
        });
        if (settings.tamper) this.log.warn('fault drill: this peer server corrupts every byte range it serves (CIDER_PEER_TAMPER)');
        this.peerServer = { server, key };
        this.log.info({ host: settings.host, port: server.port }, 'serving verified blobs to peers');
        void this.sendHeartbeat();
      } catch (error) {
        this.log.error({ err: error, host: settings.host, port: settings.port }, 'could not start the peer server; serving no peers');
      }
    })();
    await this.peerStarting;
  }

  /** The peer server's port and reachable addresses, for the facts (undefined when it does not run). */
  get peer(): { port: number; addresses: string[]; uploadedBytes: number; uploadsInFlight: number } | undefined {
    const running = this.peerServer;
    if (!running || !this.options.peer) return undefined;
    const stats = running.server.stats();
    return { port: running.server.port, addresses: peerAddresses(this.options.peer.host), uploadedBytes: stats.bytesUploaded, uploadsInFlight: stats.uploadsInFlight };
  }

  /** Stops gracefully: aborts pulls (their partial downloads stay for a resume) and closes the socket. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.heartbeatTimer);
    for (const job of this.jobs.values()) job.abort.abort(new Error('agent stopping'));
    await Promise.allSettled([...this.pulls.values()]);
    await this.peerStarting;
    await this.peerServer?.server.close();
    this.peerServer = undefined;
    await this.metricsServer?.close();
    this.metricsServer = undefined;
    const socket = this.socket;
    if (socket && socket.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
        socket.close(1000, 'agent stopping');
        setTimeout(() => {
          socket.terminate();
          resolve();
        }, 2_000).unref();
      });
    }
  }

  /** Digests the control plane says must stay (never evicted). */
  get pinnedDigests(): ReadonlySet<string> {
    return this.pinned;
  }
}
