// One agent's socket after authentication: messages are handled one at a time, in order (a
// done after its progress), and an agent that floods, queues too much or keeps sending frames
// that do not parse is cut off. Every handler's error is caught here: a message can fail, the
// socket and the process cannot.
import { agentMessage, CloseCode, decode, encode, protocolVersion, type AgentMessage, type ControlMessage } from '@cider/protocol';
import {
  grantForJob,
  isAppError,
  markNodeOnline,
  peerPlanForRenewal,
  peerTicketKey,
  pinnedDigests,
  reconcileReconnectedNode,
  recordBadPeer,
  recordCancelled,
  recordDone,
  recordEviction,
  recordFailure,
  recordHeartbeat,
  recordProgress,
  replaceInventory,
  type ServiceDeps,
} from '@cider/api/services';
import { OutageReporter, serviceOutage } from '@cider/api';
import type { Logger } from 'pino';
import type { ControlRecorder } from '../metrics/control-metrics.ts';
import { WebSocket, type RawData } from 'ws';
import { TokenBucket } from './limits.ts';

export interface SessionLimits {
  /** Messages received but not yet handled; more closes the socket (4429). */
  maxQueuedMessages: number;
  /** Sustained message rate and burst; over it closes the socket (4429). */
  messagesPerSecond: number;
  messageBurst: number;
  /** Frames that do not parse before the socket is closed (4400). */
  maxBadMessages: number;
  /** Time to say hello after the upgrade. */
  helloTimeoutMs: number;
}

/** Each peers.renew signs up to 8 tickets: one per job this often, so an agent cannot make us sign thousands. */
export const peerRenewalIntervalMs = 2_000;
/** Jobs and reports remembered per session for the limits below; past it the memory starts over. */
const maxRemembered = 1024;

export const defaultSessionLimits: SessionLimits = {
  maxQueuedMessages: 64,
  messagesPerSecond: 100,
  messageBurst: 300,
  maxBadMessages: 10,
  helloTimeoutMs: 10_000,
};

export interface SessionHost {
  deps: ServiceDeps;
  log: Logger;
  heartbeatIntervalMs: number;
  limits: SessionLimits;
  /** The greeted session becomes the node's connection (replacing an older one). */
  register(session: AgentSession): void;
  unregister(session: AgentSession): void;
  onNodeConnected(nodeId: string): Promise<void>;
  /** Told of the sync reports agents send (metrics). */
  recorder?: ControlRecorder;
}

const outageReports = new WeakMap<Logger, OutageReporter>();

/** The process's report of PostgreSQL outages seen while recording agent messages (one per gateway logger). */
function databaseOutages(log: Logger): OutageReporter {
  let reporter = outageReports.get(log);
  if (!reporter) outageReports.set(log, (reporter = new OutageReporter('PostgreSQL', log)));
  return reporter;
}

export class AgentSession {
  alive = true;
  private greeted = false;
  private closed = false;
  private queued = 0;
  private badMessages = 0;
  /** This agent was told its reports are not recorded while PostgreSQL is down. */
  private toldOfOutage = false;
  private chain: Promise<void> = Promise.resolve();
  /** When each job last got peers (peers.renew). */
  private readonly peerRenewals = new Map<string, number>();
  /** (job, peer) pairs already reported bad: a transfer drops a bad peer, so one report each is all it has to say. */
  private readonly badPeerReports = new Set<string>();
  private readonly bucket: TokenBucket;
  private readonly log: Logger;

  constructor(
    private readonly host: SessionHost,
    readonly socket: WebSocket,
    readonly nodeId: string,
    readonly nodeName: string,
    /** When the node's current enrollment happened: a replacement cuts off older sessions only. */
    readonly enrolledAt: Date,
  ) {
    this.log = host.log.child({ node: nodeName });
    this.bucket = new TokenBucket(host.limits.messagesPerSecond, host.limits.messageBurst);
    const helloTimer = setTimeout(() => {
      if (!this.greeted) this.close(CloseCode.protocolMismatch, 'no hello');
    }, host.limits.helloTimeoutMs);
    socket.on('pong', () => (this.alive = true));
    socket.on('message', (data) => this.receive(data));
    socket.on('close', () => {
      this.closed = true;
      clearTimeout(helloTimer);
      host.unregister(this);
    });
    socket.on('error', (error) => this.log.warn({ err: error }, 'agent socket error'));
  }

  send(message: ControlMessage): void {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(encode(message));
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    // A peer that ignores the close handshake is dropped after a while.
    this.socket.close(code, reason);
    setTimeout(() => this.socket.terminate(), 5_000).unref();
  }

  private receive(data: RawData): void {
    if (this.closed) return;
    this.alive = true;
    const { limits } = this.host;
    if (!this.bucket.take()) {
      this.log.warn({ limit: limits.messagesPerSecond }, 'agent sends too many messages; closing');
      this.close(CloseCode.tooManyMessages, `more than ${limits.messagesPerSecond} messages per second`);
      return;
    }
    if (this.queued >= limits.maxQueuedMessages) {
      this.log.warn({ queued: this.queued }, 'agent messages pile up; closing');
      this.close(CloseCode.tooManyMessages, `more than ${limits.maxQueuedMessages} messages waiting`);
      return;
    }
    this.queued++;
    this.chain = this.chain
      .then(() => (this.closed ? undefined : this.process(data)))
      .catch((error: unknown) => this.log.error({ err: error }, 'handling an agent message failed'))
      .finally(() => this.queued--);
  }

  private async process(data: RawData): Promise<void> {
    const decoded = decode(agentMessage, rawText(data));
    if (!decoded.ok) {
      this.badMessages++;
      this.log.warn({ error: decoded.error, count: this.badMessages }, 'malformed agent message');
      this.send({ type: 'error', code: 'BAD_MESSAGE', message: decoded.error });
      if (this.badMessages >= this.host.limits.maxBadMessages) this.close(CloseCode.badMessage, 'too many malformed messages');
      return;
    }
    const message = decoded.value;
    if (!this.greeted) {
      if (message.type !== 'hello') {
        this.close(CloseCode.protocolMismatch, 'expected hello');
        return;
      }
      try {
        await this.greet(message);
      } catch (error) {
        this.log.error({ err: error }, 'greeting an agent failed');
        this.close(1011, 'the control plane could not register this agent; reconnect later');
      }
      return;
    }
    try {
      await this.handle(message);
      databaseOutages(this.host.log).recovered();
      this.toldOfOutage = false;
    } catch (error) {
      if (serviceOutage(error)?.service === 'database') {
        // One report per outage (start, every 30 s, end), not one line per message of every agent;
        // and the agent is told once, not once per report it sends meanwhile.
        databaseOutages(this.host.log).failed(error, 'agent reports are not recorded until it is back');
        if (!this.toldOfOutage) this.send({ type: 'error', code: 'INTERNAL', message: 'The control plane cannot reach its database; reports are not recorded until it is back.' });
        this.toldOfOutage = true;
        return;
      }
      if (isAppError(error)) {
        this.log.warn({ type: message.type, err: error.message }, 'agent message refused');
        this.send({ type: 'error', code: error.code, message: error.message });
        return;
      }
      this.log.error({ err: error, type: message.type }, 'handling an agent message failed');
      this.send({ type: 'error', code: 'INTERNAL', message: `The control plane could not record this ${message.type}; it will be looked at again.` });
    }
  }

  private async greet(hello: Extract<AgentMessage, { type: 'hello' }>): Promise<void> {
    if (hello.protocol !== protocolVersion) {
      this.send({ type: 'error', code: 'PROTOCOL', message: `This control plane speaks protocol ${protocolVersion}; the agent speaks ${hello.protocol}. Upgrade the agent.` });
      this.close(CloseCode.protocolMismatch, 'protocol version');
      return;
    }
    const { deps } = this.host;
    const marked = await markNodeOnline(deps, this.nodeId, hello);
    if (marked === 'revoked') {
      this.close(CloseCode.revoked, 'this node was revoked by an admin');
      return;
    }
    if (marked === 'other-key') {
      this.send({ type: 'error', code: 'NODE_KEY', message: 'This agent names a node key other than the one it enrolled with. Enroll this Mac again (an admin allows the replacement).' });
      this.close(CloseCode.unauthorized, 'node key differs from the enrolled one');
      return;
    }
    this.greeted = true;
    this.host.register(this);
    await replaceInventory(deps, this.nodeId, hello.images);
    // What it still runs against the node's open sync jobs: nothing it runs is dispatched again, and
    // it drops what was cancelled (or finished) while it was away.
    const jobs = await reconcileReconnectedNode(deps, this.nodeId, hello);
    const pinned = await pinnedDigests(deps, this.nodeId);
    this.send({
      type: 'welcome',
      nodeId: this.nodeId,
      nodeName: this.nodeName,
      heartbeatIntervalMs: this.host.heartbeatIntervalMs,
      pinned,
      drop: jobs.drop,
      peerTicketKey: peerTicketKey(deps),
    });
    const { drop, ...settled } = jobs;
    const jobsSettled = drop.length > 0 || Object.values(settled).some((n) => n > 0);
    this.log.info({ images: hello.images.length, agentVersion: hello.agentVersion, ...(jobsSettled ? { activeJobs: hello.activeJobs.length, dropped: drop.length, ...settled } : {}) }, 'agent connected');
    // Its waiting jobs are looked at again anyway (periodic reconcile); this only makes it sooner.
    await this.host.onNodeConnected(this.nodeId).catch((error: unknown) => this.log.error({ err: error }, 'starting the jobs of a connected node failed'));
  }

  private async handle(message: AgentMessage): Promise<void> {
    const { deps } = this.host;
    const { nodeId } = this;
    switch (message.type) {
      case 'hello':
        return;
      case 'heartbeat':
        // A revocation whose notice was lost (Redis blip) still closes the socket here.
        if (!(await recordHeartbeat(deps, nodeId, message.facts))) this.close(CloseCode.revoked, 'this node was revoked by an admin');
        return;
      case 'inventory':
        await replaceInventory(deps, nodeId, message.images);
        return;
      case 'sync.progress':
        this.host.recorder?.syncProgress(message.jobId, message.bytesDone);
        return recordProgress(deps, nodeId, message);
      case 'sync.done':
        // Counted as the agent reports them: bytes moved whether or not the report is recorded.
        this.host.recorder?.syncDone(message.jobId, message.bytesFetched, message.sources);
        return recordDone(deps, nodeId, message);
      case 'sync.failed':
        this.host.recorder?.syncFailed(message.jobId, message.code);
        return recordFailure(deps, nodeId, message);
      case 'sync.cancelled':
        this.host.recorder?.syncCancelled(message.jobId);
        return recordCancelled(deps, nodeId, message);
      case 'grant.renew':
        this.send({ type: 'grant', jobId: message.jobId, registry: await grantForJob(deps, nodeId, message.jobId) });
        return;
      case 'peers.renew': {
        const now = Date.now();
        const last = this.peerRenewals.get(message.jobId);
        if (last !== undefined && now - last < peerRenewalIntervalMs) {
          this.send({ type: 'error', code: 'RATE_LIMITED', message: `Peers for sync job ${message.jobId} were renewed less than ${peerRenewalIntervalMs / 1000} s ago; ask again later.` });
          return;
        }
        if (this.peerRenewals.size >= maxRemembered) this.peerRenewals.clear();
        this.peerRenewals.set(message.jobId, now);
        this.send({ type: 'peers', jobId: message.jobId, peers: await peerPlanForRenewal(deps, nodeId, message.jobId) });
        return;
      }
      case 'peer.bad': {
        const key = `${message.jobId} ${message.nodeId}`;
        if (this.badPeerReports.has(key)) return;
        if (this.badPeerReports.size >= maxRemembered) this.badPeerReports.clear();
        this.badPeerReports.add(key);
        this.host.recorder?.badPeer();
        const recorded = await recordBadPeer(deps, nodeId, message);
        this.log[recorded ? 'warn' : 'info']({ peer: message.nodeId, digest: message.digest, reason: message.reason, recorded }, recorded ? 'agent reported bad data from a peer' : 'ignored a bad-peer report (no open job of this node for the image, or a peer that could not have served it)');
        return;
      }
      case 'secret.stored': {
        // The agent holds the rotated secret: reconnecting with it retires the old one.
        const node = await deps.db.node.findUnique({ where: { id: nodeId }, select: { pendingSecretHash: true } });
        if (node?.pendingSecretHash) this.close(CloseCode.secretRotated, 'secret rotated: reconnect with the new secret');
        return;
      }
      case 'eviction':
        this.log.info({ digest: message.digest, reason: message.reason }, 'agent evicted an image');
        return recordEviction(deps, nodeId, message);
    }
  }
}

function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
