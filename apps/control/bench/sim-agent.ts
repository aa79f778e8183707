// A simulated agent for the benchmarks: a WebSocket client speaking the real protocol
// (authenticated upgrade, hello with facts and held images, heartbeats at the interval the
// welcome names, a `queued` ack per sync job) and nothing more: it never pulls. bench/agents.ts
// connects 1,000 of them to time dispatch; bench/dashboard.ts keeps 1,000 heartbeating while it
// measures the dashboard, some of them (`churn`) with free disk that visibly moves every beat.
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
  /** Report free disk 2 to 3 % apart on every heartbeat (past the dashboard's 1 % threshold), so each
   * heartbeat is a visible change (default false: identical facts every time). */
  churn?: boolean;
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

/** The facts with free disk at its hello value on even heartbeats and 2 to 3 % below it on odd ones. */
function churned(facts: HostFacts, heartbeat: number): HostFacts {
  if (heartbeat % 2 === 0) return facts;
  const freeBytes = Math.round(facts.disk.freeBytes * (0.97 + Math.random() * 0.01));
  return { ...facts, disk: { ...facts.disk, freeBytes } };
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
      socket.send(encode({ type: 'heartbeat', facts: options.churn ? churned(options.facts, agent.heartbeats) : options.facts }));
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
