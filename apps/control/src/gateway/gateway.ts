// The agent gateway: agents connect out to it over WebSocket (no inbound port on the Mac),
// authenticate with their node secret in the upgrade request, say hello with their protocol
// version, facts and inventory, and then stream heartbeats and sync job reports.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  agentMessage,
  agentPath,
  CloseCode,
  decode,
  encode,
  enrollPath,
  enrollRequest,
  protocolVersion,
  type AgentMessage,
  type ControlMessage,
} from '@cider/protocol';
import {
  authenticateNode,
  desiredImages,
  enrollNode,
  isAppError,
  markNodeOffline,
  markNodeOnline,
  recordDone,
  recordEviction,
  recordFailure,
  recordHeartbeat,
  recordProgress,
  replaceInventory,
  type ServiceDeps,
} from '@cider/api/services';
import type { Logger } from 'pino';
import { WebSocket, WebSocketServer } from 'ws';
import type { CommandBus } from './commands.ts';

export interface GatewayOptions {
  deps: ServiceDeps;
  commands: CommandBus;
  log: Logger;
  heartbeatIntervalMs: number;
  /** Called when an agent (re)connects: its jobs may run now. */
  onNodeConnected(nodeId: string): Promise<void>;
}

interface AgentConnection {
  nodeId: string;
  nodeName: string;
  socket: WebSocket;
  alive: boolean;
}

const helloTimeoutMs = 10_000;

function readJson(req: IncomingMessage, limit = 64 * 1024): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new Error('request body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        reject(new Error('request body is not JSON'));
      }
    });
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

export class AgentGateway {
  readonly server: Server;
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 4 * 1024 * 1024 });
  private readonly connections = new Map<string, AgentConnection>();
  private pingTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: GatewayOptions) {
    this.server = createServer((req, res) => void this.handleHttp(req, res));
    this.server.on('upgrade', (req, socket, head) => void this.handleUpgrade(req, socket, head));
  }

  get connectedNodes(): number {
    return this.connections.size;
  }

  async listen(port: number, host: string): Promise<number> {
    await this.options.commands.onCommand((nodeId, message) => this.deliver(nodeId, message));
    await new Promise<void>((resolve) => this.server.listen(port, host, resolve));
    // Dead TCP connections (a Mac that lost power) are found by missing pongs.
    this.pingTimer = setInterval(() => {
      for (const connection of this.connections.values()) {
        if (!connection.alive) {
          connection.socket.terminate();
          continue;
        }
        connection.alive = false;
        connection.socket.ping();
      }
    }, Math.max(5_000, this.options.heartbeatIntervalMs * 2));
    const address = this.server.address();
    return typeof address === 'object' && address ? address.port : port;
  }

  private deliver(nodeId: string, message: ControlMessage): void {
    const connection = this.connections.get(nodeId);
    if (connection?.socket.readyState === WebSocket.OPEN) connection.socket.send(encode(message));
  }

  private async handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://control');
    if (req.method === 'GET' && url.pathname === '/healthz') {
      sendJson(res, 200, { ok: true, agents: this.connections.size });
      return;
    }
    if (req.method === 'POST' && url.pathname === enrollPath) {
      try {
        const parsed = enrollRequest.safeParse(await readJson(req));
        if (!parsed.success) {
          sendJson(res, 400, { error: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') });
          return;
        }
        const enrolled = await enrollNode(this.options.deps, parsed.data);
        this.options.log.info({ node: enrolled.nodeName }, 'node enrolled');
        sendJson(res, 200, enrolled);
      } catch (error) {
        const status = isAppError(error) && error.code === 'UNAUTHENTICATED' ? 401 : 400;
        if (!isAppError(error)) this.options.log.error({ err: error }, 'enrollment failed');
        sendJson(res, status, { error: isAppError(error) ? error.message : 'Enrollment failed on the server; see its log.' });
      }
      return;
    }
    sendJson(res, 404, { error: 'not found' });
  }

  private async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://control');
    const refuse = (status: number, message: string) => {
      socket.end(`HTTP/1.1 ${status} ${message}\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n${message}\n`);
    };
    if (url.pathname !== agentPath) {
      refuse(404, 'Not Found');
      return;
    }
    const auth = req.headers.authorization;
    const credentials = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
    let node;
    try {
      node = await authenticateNode(this.options.deps, credentials);
    } catch (error) {
      const status = isAppError(error) && error.code === 'FORBIDDEN' ? 403 : 401;
      refuse(status, isAppError(error) ? error.message : 'Unauthorized');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, node.id, node.name));
  }

  private accept(socket: WebSocket, nodeId: string, nodeName: string): void {
    const log = this.options.log.child({ node: nodeName });
    const connection: AgentConnection = { nodeId, nodeName, socket, alive: true };
    let greeted = false;
    const helloTimer = setTimeout(() => {
      if (!greeted) socket.close(CloseCode.protocolMismatch, 'no hello');
    }, helloTimeoutMs);
    socket.on('pong', () => (connection.alive = true));
    // Messages are handled one at a time per agent, in order (a done after its progress).
    let chain = Promise.resolve();
    socket.on('message', (data) => {
      connection.alive = true;
      chain = chain.then(async () => {
        const decoded = decode(agentMessage, data.toString());
        if (!decoded.ok) {
          log.warn({ error: decoded.error }, 'malformed agent message');
          socket.send(encode({ type: 'error', code: 'BAD_MESSAGE', message: decoded.error }));
          return;
        }
        const message = decoded.value;
        if (!greeted) {
          if (message.type !== 'hello') {
            socket.close(CloseCode.protocolMismatch, 'expected hello');
            return;
          }
          greeted = true;
          clearTimeout(helloTimer);
          await this.greet(connection, message, log);
          return;
        }
        await this.handle(connection, message).catch((error: unknown) => log.error({ err: error, type: message.type }, 'handling agent message failed'));
      });
    });
    socket.on('close', () => {
      clearTimeout(helloTimer);
      if (this.connections.get(nodeId) !== connection) return;
      this.connections.delete(nodeId);
      log.info('agent disconnected');
      void markNodeOffline(this.options.deps, nodeId).catch((error: unknown) => log.error({ err: error }, 'marking node offline failed'));
    });
    socket.on('error', (error) => log.warn({ err: error }, 'agent socket error'));
  }

  private async greet(connection: AgentConnection, hello: Extract<AgentMessage, { type: 'hello' }>, log: Logger): Promise<void> {
    const { socket, nodeId } = connection;
    if (hello.protocol !== protocolVersion) {
      socket.send(encode({ type: 'error', code: 'PROTOCOL', message: `This control plane speaks protocol ${protocolVersion}; the agent speaks ${hello.protocol}. Upgrade the agent.` }));
      socket.close(CloseCode.protocolMismatch, 'protocol version');
      return;
    }
    const previous = this.connections.get(nodeId);
    this.connections.set(nodeId, connection);
    if (previous && previous !== connection) previous.socket.close(CloseCode.replaced, 'replaced by a newer connection');
    await markNodeOnline(this.options.deps, nodeId, hello);
    await replaceInventory(this.options.deps, nodeId, hello.images);
    const pinned = [...((await desiredImages(this.options.deps, [nodeId])).get(nodeId)?.keys() ?? [])];
    socket.send(encode({ type: 'welcome', nodeId, nodeName: connection.nodeName, heartbeatIntervalMs: this.options.heartbeatIntervalMs, pinned }));
    log.info({ images: hello.images.length, agentVersion: hello.agentVersion }, 'agent connected');
    await this.options.onNodeConnected(nodeId);
  }

  private async handle(connection: AgentConnection, message: AgentMessage): Promise<void> {
    const { deps } = this.options;
    const { nodeId } = connection;
    switch (message.type) {
      case 'hello':
        return;
      case 'heartbeat':
        return recordHeartbeat(deps, nodeId, message.facts);
      case 'inventory':
        await replaceInventory(deps, nodeId, message.images);
        return;
      case 'sync.progress':
        return recordProgress(deps, nodeId, message);
      case 'sync.done':
        return recordDone(deps, nodeId, message);
      case 'sync.failed':
        return recordFailure(deps, nodeId, message);
      case 'eviction':
        this.options.log.info({ node: connection.nodeName, digest: message.digest, reason: message.reason }, 'agent evicted an image');
        return recordEviction(deps, nodeId, message);
    }
  }

  async close(): Promise<void> {
    clearInterval(this.pingTimer);
    for (const connection of this.connections.values()) connection.socket.close(CloseCode.shuttingDown, 'control plane shutting down');
    this.connections.clear();
    this.wss.close();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
