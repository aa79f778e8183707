// The agent gateway: agents connect out to it over WebSocket (no inbound port on the Mac),
// authenticate with their node secret in the upgrade request, say hello with their protocol
// version, facts and inventory, and then stream heartbeats and sync job reports.
//
// Everything here is reachable by anyone who can reach the port: every handler catches its own
// errors and answers with a status, credential checks are bounded so a storm of bad upgrades
// cannot take the database pool, and agents that misbehave are cut off (agent-session.ts).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { authenticateNode, enrollNode, markNodeOffline, publishSyncOutcome, type NodeNotice, type ServiceDeps } from '@cider/api/services';
import { agentPath, CloseCode, enrollPath, enrollRequest, maxEnrollBodyBytes, maxFrameBytes, type ControlMessage } from '@cider/protocol';
import { metricsPath, type MetricsEndpoint } from '@cider/protocol/metrics-endpoint';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import { AgentSession, defaultSessionLimits, type SessionHost, type SessionLimits } from './agent-session.ts';
import type { ControlRecorder } from '../metrics/control-metrics.ts';
import type { CommandBus } from './commands.ts';
import { errorAnswer, HttpError, nodeCredentials, readJson, refuseUpgrade, requestPath, sendJson } from './http.ts';
import { SaturatedError, Semaphore } from './limits.ts';

export interface GatewayOptions {
  deps: ServiceDeps;
  commands: CommandBus;
  log: Logger;
  heartbeatIntervalMs: number;
  /** PEM certificate and key: serve https and wss instead of http and ws. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  limits?: Partial<SessionLimits>;
  /** Credential checks and enrollments running against the database at once (the rest wait). */
  maxConcurrentAuth?: number;
  /** Callers allowed to wait for one; beyond that they get 503 at once. */
  maxWaitingAuth?: number;
  /** Called when an agent (re)connects: its jobs may run now. */
  onNodeConnected(nodeId: string): Promise<void>;
  /** Told of agents' sync reports (metrics). */
  recorder?: ControlRecorder;
  /** Serves /metrics on this port (behind CIDER_METRICS_TOKEN); absent: /metrics is 404 here. */
  metrics?: MetricsEndpoint;
}

export class AgentGateway {
  readonly server: Server;
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: maxFrameBytes });
  private readonly sessions = new Map<string, AgentSession>();
  private readonly auth: Semaphore;
  private readonly sessionHost: SessionHost;
  private pingTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: GatewayOptions) {
    const onRequest = (req: IncomingMessage, res: ServerResponse) => {
      this.handleHttp(req, res).catch((error: unknown) => this.answerError(res, error, req));
    };
    this.server = options.tls ? createTlsServer({ cert: options.tls.cert, key: options.tls.key }, onRequest) : createServer(onRequest);
    // Slow-loris and stuck uploads: headers within 15 s, a whole request within 30 s.
    this.server.headersTimeout = 15_000;
    this.server.requestTimeout = 30_000;
    this.server.keepAliveTimeout = 5_000;
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      // A socket error on a half-open upgrade (peer reset) must not become an uncaught error.
      socket.on('error', (error) => options.log.debug({ err: error }, 'upgrade socket error'));
      this.handleUpgrade(req, socket, head).catch((error: unknown) => {
        const answer = errorAnswer(error);
        if (!answer.expected) options.log.error({ err: error, url: req.url?.slice(0, 200) }, 'agent upgrade failed');
        refuseUpgrade(socket, answer.status, answer.message);
      });
    });
    this.server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
      // Requests Node's parser refuses (garbage, oversized headers) get a status, not a crash.
      if (!socket.writable) return socket.destroy();
      const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
      socket.end(`HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    });
    this.auth = new Semaphore(options.maxConcurrentAuth ?? 8, options.maxWaitingAuth ?? 4096);
    this.sessionHost = {
      deps: options.deps,
      log: options.log,
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      limits: { ...defaultSessionLimits, ...options.limits },
      register: (session) => {
        const previous = this.sessions.get(session.nodeId);
        this.sessions.set(session.nodeId, session);
        if (previous && previous !== session) previous.close(CloseCode.replaced, 'replaced by a newer connection');
      },
      unregister: (session) => {
        if (this.sessions.get(session.nodeId) !== session) return;
        this.sessions.delete(session.nodeId);
        options.log.info({ node: session.nodeName }, 'agent disconnected');
        markNodeOffline(options.deps, session.nodeId)
          .catch((error: unknown) => options.log.error({ err: error, node: session.nodeName }, 'marking node offline failed'))
          // Its sync jobs' dispatchers stop waiting for it (they look at the node first: it may be back already).
          .then(() => publishSyncOutcome(options.deps, { kind: 'node-offline', nodeId: session.nodeId }));
      },
      onNodeConnected: (nodeId) => options.onNodeConnected(nodeId),
      ...(options.recorder ? { recorder: options.recorder } : {}),
    };
  }

  get connectedNodes(): number {
    return this.sessions.size;
  }

  async listen(port: number, host: string): Promise<number> {
    await this.options.commands.listen({ onCommand: (nodeId, message) => this.deliver(nodeId, message), onNotice: (notice) => this.onNotice(notice) });
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.server.on('error', (error) => this.options.log.error({ err: error }, 'gateway server error'));
    // Dead TCP connections (a Mac that lost power) are found by missing pongs.
    this.pingTimer = setInterval(() => {
      for (const session of this.sessions.values()) {
        if (!session.alive) {
          session.socket.terminate();
          continue;
        }
        session.alive = false;
        session.socket.ping();
      }
    }, Math.max(5_000, this.options.heartbeatIntervalMs * 2));
    const address = this.server.address();
    return typeof address === 'object' && address ? address.port : port;
  }

  private deliver(nodeId: string, message: ControlMessage): void {
    this.sessions.get(nodeId)?.send(message);
  }

  private onNotice(notice: NodeNotice): void {
    const session = this.sessions.get(notice.nodeId);
    if (!session) return;
    if (notice.enrolledBefore && session.enrolledAt.getTime() >= Date.parse(notice.enrolledBefore)) return;
    this.options.log.info({ node: session.nodeName, reason: notice.reason }, 'closing an agent connection');
    session.close(notice.code, notice.reason);
  }

  private answerError(res: ServerResponse, error: unknown, req: IncomingMessage): void {
    const answer = errorAnswer(error);
    if (!answer.expected) this.options.log.error({ err: error, method: req.method, url: req.url?.slice(0, 200) }, 'gateway request failed');
    sendJson(res, answer.status, { error: answer.message });
  }

  private async handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = requestPath(req);
    if (path === '/healthz') {
      if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, { error: 'Method not allowed' }, { allow: 'GET, HEAD' });
      return sendJson(res, 200, { ok: true });
    }
    if (path === metricsPath && this.options.metrics) return this.options.metrics.serve(req, res);
    if (path === enrollPath) {
      if (req.method !== 'POST') return sendJson(res, 405, { error: 'Method not allowed' }, { allow: 'POST' });
      const parsed = enrollRequest.safeParse(await readJson(req, maxEnrollBodyBytes));
      if (!parsed.success) throw new HttpError(400, parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ').slice(0, 1000));
      const enrolled = await this.authSlot(() => enrollNode(this.options.deps, parsed.data));
      this.options.log.info({ node: enrolled.nodeName }, 'node enrolled');
      return sendJson(res, 200, enrolled);
    }
    throw new HttpError(404, 'Not found');
  }

  /** Database work on behalf of someone not yet authenticated: bounded, and refused when too many wait. */
  private async authSlot<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await this.auth.run(work);
    } catch (error) {
      if (error instanceof SaturatedError) throw new HttpError(503, 'The control plane is busy; retry shortly');
      throw error;
    }
  }

  private async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    if (requestPath(req) !== agentPath) throw new HttpError(404, 'Not Found');
    if (req.method !== 'GET') throw new HttpError(405, 'Method Not Allowed');
    // Checked before any query: malformed credentials cost nothing.
    const credentials = nodeCredentials(req.headers.authorization);
    if (!credentials) throw new HttpError(401, 'Unauthorized: expected Authorization: Bearer <node id>.<secret>');
    const node = await this.authSlot(async () => {
      // The caller may have gone while waiting for a slot.
      if (socket.destroyed) return undefined;
      return authenticateNode(this.options.deps, credentials);
    });
    if (!node || socket.destroyed) return;
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      new AgentSession(this.sessionHost, ws, node.id, node.name, node.enrolledAt);
    });
  }

  async close(): Promise<void> {
    clearInterval(this.pingTimer);
    for (const session of this.sessions.values()) session.close(CloseCode.shuttingDown, 'control plane shutting down');
    this.sessions.clear();
    this.wss.close();
    this.server.closeAllConnections?.();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
