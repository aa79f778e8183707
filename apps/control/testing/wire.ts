// Test clients that speak to the gateway at the wire level: raw TCP exchanges (for requests no
// well-behaved client would send) and a minimal agent over WebSocket that records everything
// the control plane says and how the socket ends.
import { connect as connectTcp } from 'node:net';
import { agentPath, controlMessage, decode, encode, protocolVersion, type AgentMessage, type ControlMessage, type HostFacts, type NodeKeyPair } from '@cider/protocol';
import WebSocket, { type ClientOptions } from 'ws';

/** Sends bytes on a fresh TCP connection and returns whatever comes back before the server closes it (or the timeout). */
export function rawExchange(port: number, data: string | Buffer, timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connectTcp({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    const timer = setTimeout(done, timeoutMs);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('close', done);
    socket.on('error', done);
    socket.on('connect', () => socket.write(data));
  });
}

/** The status code of a raw HTTP answer, or 0 when the server answered nothing. */
export function statusOf(response: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1] ?? 0);
}

export function upgradeRequest(target: string, headers: Record<string, string> = {}): string {
  const lines = [
    `GET ${target} HTTP/1.1`,
    'Host: 127.0.0.1',
    'Connection: Upgrade',
    'Upgrade: websocket',
    'Sec-WebSocket-Version: 13',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  return `${lines.join('\r\n')}\r\n\r\n`;
}

export const simFacts: HostFacts = {
  hostname: 'sim',
  os: { platform: 'macOS', release: '24.2.0', version: '15.2' },
  architecture: 'arm64',
  cpu: { model: 'Apple M2', cores: 8 },
  memoryBytes: 16 * 1024 ** 3,
  disk: { totalBytes: 1024 ** 4, freeBytes: 512 * 1024 ** 3 },
  cache: { path: '/tmp/sim', bytes: 0 },
  conditions: [],
};

/** An agent reduced to its wire: connect, say hello, send anything, see every answer. */
export class SimAgent {
  readonly messages: ControlMessage[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: { match: (m: ControlMessage) => boolean; resolve: (m: ControlMessage) => void }[] = [];

  private constructor(readonly socket: WebSocket) {
    this.closed = new Promise((resolve) => socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    socket.on('error', () => {});
    socket.on('message', (data) => {
      const decoded = decode(controlMessage, data.toString());
      if (!decoded.ok) return;
      this.messages.push(decoded.value);
      this.waiters = this.waiters.filter((w) => {
        if (!w.match(decoded.value)) return true;
        w.resolve(decoded.value);
        return false;
      });
    });
  }

  /** Opens the socket; rejects with the HTTP status when the upgrade is refused. */
  static open(baseUrl: string, credentials: string | undefined, options: ClientOptions = {}): Promise<SimAgent> {
    const url = new URL(agentPath, baseUrl);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const socket = new WebSocket(url, { ...options, headers: credentials ? { authorization: `Bearer ${credentials}` } : {} });
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(new SimAgent(socket)));
      socket.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode })));
      socket.once('error', reject);
    });
  }

  /** Opens the socket and completes the hello/welcome exchange. */
  static async connect(baseUrl: string, credentials: string, keys: NodeKeyPair, options: ClientOptions = {}): Promise<SimAgent> {
    const agent = await SimAgent.open(baseUrl, credentials, options);
    agent.send({ type: 'hello', protocol: protocolVersion, agentVersion: 'sim', publicKey: keys.publicKey, facts: simFacts, images: [], activeJobs: [] });
    await agent.next((m) => m.type === 'welcome');
    return agent;
  }

  send(message: AgentMessage | string | Buffer): void {
    this.socket.send(typeof message === 'string' || Buffer.isBuffer(message) ? message : encode(message));
  }

  next(match: (m: ControlMessage) => boolean, timeoutMs = 10_000): Promise<ControlMessage> {
    const seen = this.messages.find(match);
    if (seen) {
      this.messages.splice(this.messages.indexOf(seen), 1);
      return Promise.resolve(seen);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for a control message')), timeoutMs);
      this.waiters.push({
        match,
        resolve: (m) => {
          clearTimeout(timer);
          this.messages.splice(this.messages.indexOf(m), 1);
          resolve(m);
        },
      });
    });
  }

  get open(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  close(): void {
    this.socket.terminate();
  }
}

/** Sends bytes and resets the connection (TCP RST) at once: a peer that vanishes mid-request. */
export function sendAndReset(port: number, data: string | Buffer): Promise<void> {
  return new Promise((resolve) => {
    const socket = connectTcp({ host: '127.0.0.1', port });
    socket.on('error', () => resolve());
    socket.on('close', () => resolve());
    socket.on('connect', () => socket.write(data, () => socket.resetAndDestroy()));
  });
}
