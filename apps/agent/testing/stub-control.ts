// A stand-in for the control plane's agent gateway in agent tests: a real WebSocket server on
// loopback that checks the node's bearer credential, answers hello with welcome, checks every
// frame the agent sends against the protocol, and lets the test send any frame (well-formed or
// not) and wait for what the agent answers. The real gateway is tested with real agents in
// apps/control; this one lets agent tests provoke what a control plane rarely does.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { agentMessage, agentPath, decode, encode, type AgentMessage, type ControlMessage } from '@cider/protocol';
import { WebSocketServer, type WebSocket } from 'ws';

export interface StubControl {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Every well-formed message from the agent, in order. */
  readonly received: AgentMessage[];
  /** Frames from the agent that did not parse (should stay empty). */
  readonly malformed: string[];
  /** Authorization headers of every upgrade, accepted or not. */
  readonly authorizations: string[];
  /** The secret upgrades must carry (changed by tests that rotate it). */
  secret: string;
  pinned: string[];
  send(message: ControlMessage | string): void;
  /** Closes the live agent socket with a code. */
  closeSocket(code: number, reason: string): void;
  /** Resolves with the first message (from now on, or already received after `from`) matching `match`. */
  waitFor<T extends AgentMessage['type']>(type: T, match?: (m: Extract<AgentMessage, { type: T }>) => boolean, from?: number, timeoutMs?: number): Promise<Extract<AgentMessage, { type: T }>>;
  readonly connections: number;
  close(): Promise<void>;
}

export async function startStubControl(options: { nodeId: string; secret: string; heartbeatIntervalMs?: number; pinned?: string[]; peerTicketKey?: string }): Promise<StubControl> {
  const server: Server = createServer((_req, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ noServer: true });
  let live: WebSocket | undefined;
  let connections = 0;
  const listeners = new Set<() => void>();
  const stub: StubControl = {
    url: '',
    received: [],
    malformed: [],
    authorizations: [],
    secret: options.secret,
    pinned: options.pinned ?? [],
    send(message) {
      live?.send(typeof message === 'string' ? message : encode(message));
    },
    closeSocket(code, reason) {
      live?.close(code, reason);
    },
    waitFor(type, match, from = stub.received.length, timeoutMs = 30_000) {
      type Wanted = Extract<AgentMessage, { type: typeof type }>;
      const find = () => stub.received.slice(from).find((m): m is Wanted => m.type === type && (!match || match(m as Wanted)));
      return new Promise((resolve, reject) => {
        const found = find();
        if (found) return resolve(found);
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`timed out waiting for ${type} from the agent`));
        }, timeoutMs);
        const check = () => {
          const hit = find();
          if (!hit) return;
          clearTimeout(timer);
          listeners.delete(check);
          resolve(hit);
        };
        listeners.add(check);
      });
    },
    get connections() {
      return connections;
    },
    close: async () => {
      for (const client of wss.clients) client.terminate();
      wss.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  server.on('upgrade', (req, socket, head) => {
    const authorization = req.headers.authorization ?? '';
    stub.authorizations.push(authorization);
    if (!req.url?.startsWith(agentPath) || authorization !== `Bearer ${options.nodeId}.${stub.secret}`) {
      socket.end('HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      connections++;
      live = ws;
      ws.on('message', (data) => {
        const decoded = decode(agentMessage, data.toString());
        if (!decoded.ok) {
          stub.malformed.push(data.toString().slice(0, 500));
          return;
        }
        stub.received.push(decoded.value);
        if (decoded.value.type === 'hello') {
          ws.send(encode({ type: 'welcome', nodeId: options.nodeId, nodeName: 'stub-node', heartbeatIntervalMs: options.heartbeatIntervalMs ?? 200, pinned: stub.pinned, drop: [], ...(options.peerTicketKey ? { peerTicketKey: options.peerTicketKey } : {}) }));
        }
        for (const listener of [...listeners]) listener();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  stub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return stub;
}
