// A simulated agent for the benchmarks: a WebSocket client speaking the real protocol
// (authenticated upgrade, hello with facts and held images, heartbeats at the interval the
// welcome names, a `queued` ack per sync job) and nothing more: it never pulls. bench/agents.ts
// connects 1,000 of them to time dispatch; bench/dashboard.ts keeps 1,000 heartbeating while it
// measures the dashboard.
import { agentPath, controlMessage, decode, encode, generateNodeKeyPair, protocolVersion, type HeldImage, type HostFacts } from '@cider/protocol';
import WebSocket from 'ws';

// One key pair for every simulated agent: the benchmarks never open what is sealed to it.
const keys = generateNodeKeyPair();

export interface SimAgentOptions {
  controlUrl: string;
  nodeId: string;
  secret: string;
  facts: HostFacts;
  /** What its cache holds, as the hello reports it (default: nothing). */
  images?: HeldImage[];
  /** Sync jobs it says it is still running (the control plane adopts them). */
  activeJobs?: string[];
  /** Send heartbeats at the welcome's interval, the first at a random point of it (default false). */
  heartbeat?: boolean;
  /** Called once, at the first sync job it is sent. */
  onSync?: () => void;
}

export interface SimAgent {
  socket: WebSocket;
  welcomed: boolean;
  /** When its first sync job arrived. */
  syncAt?: number;
  /** Peer candidates that dispatch carried, and whether it was made an origin. */
  peers?: number;
  origin?: boolean;
  heartbeats: number;
  close(): void;
}

/** Connects and says hello; resolves at the welcome, rejects when the socket fails first. */
export function connectSimAgent(options: SimAgentOptions): Promise<SimAgent> {
  return new Promise((resolve, reject) => {
    const url = new URL(agentPath, options.controlUrl);
    url.protocol = 'ws:';
    const socket = new WebSocket(url, { headers: { authorization: `Bearer ${options.nodeId}.${options.secret}` } });
    let timer: NodeJS.Timeout | undefined;
    const agent: SimAgent = {
      socket,
      welcomed: false,
      heartbeats: 0,
      close() {
        clearTimeout(timer);
        clearInterval(timer);
        socket.terminate();
      },
    };
    const beat = () => {
      if (socket.readyState !== WebSocket.OPEN) return;
      socket.send(encode({ type: 'heartbeat', facts: options.facts }));
      agent.heartbeats++;
    };
    socket.on('open', () =>
      socket.send(encode({ type: 'hello', protocol: protocolVersion, agentVersion: 'sim', publicKey: keys.publicKey, facts: options.facts, images: options.images ?? [], activeJobs: options.activeJobs ?? [] })),
    );
    socket.on('message', (data) => {
      const decoded = decode(controlMessage, data.toString());
      if (!decoded.ok) return;
      const message = decoded.value;
      if (message.type === 'welcome') {
        agent.welcomed = true;
        if (options.heartbeat) {
          const interval = message.heartbeatIntervalMs;
          timer = setTimeout(() => {
            beat();
            timer = setInterval(beat, interval);
          }, Math.random() * interval);
        }
        resolve(agent);
      } else if (message.type === 'sync' && agent.syncAt === undefined) {
        agent.syncAt = Date.now();
        agent.peers = message.peers?.candidates.length;
        agent.origin = message.peers?.origin;
        socket.send(encode({ type: 'sync.progress', jobId: message.jobId, phase: 'queued', bytesDone: 0, bytesTotal: 0 }));
        options.onSync?.();
      }
    });
    socket.on('close', () => {
      clearTimeout(timer);
      clearInterval(timer);
    });
    socket.on('error', reject);
  });
}
