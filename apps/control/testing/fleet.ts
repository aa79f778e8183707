// A real fleet for integration tests: the control plane in this process, agents with their own
// caches, PostgreSQL, Redis and a registry behind a fault proxy (so pulls can be slowed down
// and rollouts interrupted midway).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, type AgentOptions } from '@cider/agent/agent';
import type { AgentConfig } from '@cider/agent/config';
import { enroll } from '@cider/agent/enroll';
import { createServiceDeps } from '@cider/api';
import { createEnrollmentToken, createUser, projectRollout } from '@cider/api/services';
import { startFaultProxy, type FaultProxy } from '@cider/oci/testing';
import pino from 'pino';
import { startControl, type ControlConfig, type RunningControl } from '../src/server.ts';

export async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface FleetOptions {
  databaseUrl: string;
  redisUrl: string;
  redisPrefix: string;
  registryUrl: string;
  agents: number;
  reconcileIntervalMs?: number;
  /** Control plane settings beyond the fleet's (e.g. metrics). */
  control?: Pick<ControlConfig, 'metrics'>;
  /** Agent options beyond the fleet's (e.g. metrics), for every agent. */
  agent?: Pick<AgentOptions, 'metrics'>;
}

export class TestFleet {
  readonly log = pino({ level: process.env.CIDER_TEST_LOG ?? 'silent' });
  readonly services: ReturnType<typeof createServiceDeps>;
  readonly agents = new Map<string, Agent>();
  readonly configs = new Map<string, AgentConfig>();
  control: RunningControl | undefined;
  proxy!: FaultProxy;
  work!: string;
  private port = 0;
  private readonly config: Omit<ControlConfig, 'host' | 'port'>;

  constructor(private readonly options: FleetOptions) {
    const secretKey = randomBytes(32).toString('base64');
    const base = { databaseUrl: options.databaseUrl, redisUrl: options.redisUrl, redisPrefix: options.redisPrefix, secretKey };
    this.services = createServiceDeps(base);
    this.config = {
      ...base,
      maxConcurrentPulls: 20,
      maxPullsPerNode: 2,
      reconcileIntervalMs: options.reconcileIntervalMs ?? 2_000,
      registryWatchIntervalMs: 60 * 60_000,
      heartbeatIntervalMs: 2_000,
      syncStallTimeoutMs: 20_000,
      log: this.log,
      ...options.control,
    };
  }

  get deps() {
    return this.services.deps;
  }

  /** `host:port` agents pull through: the proxy in front of the real registry. */
  get registryHost(): string {
    return this.proxy.host;
  }

  async start(): Promise<void> {
    this.work = await mkdtemp(join(tmpdir(), 'cider-fleet-'));
    this.proxy = await startFaultProxy(this.options.registryUrl);
    await this.startControl();
    const admin = await createUser(this.deps, { email: 'admin@fleet.test', name: 'Admin', password: 'correct horse battery', role: 'admin' });
    const { token } = await createEnrollmentToken(this.deps, { userId: admin.id, label: 'admin@fleet.test' }, { name: 'fleet', usesLeft: 100 });
    for (let i = 1; i <= this.options.agents; i++) {
      const name = `mac-${i}`;
      const config = await enroll({ server: this.control!.url, token, name, labels: { pool: 'ci' }, cacheDir: join(this.work, name) });
      this.configs.set(name, config);
      await this.startAgent(name);
    }
  }

  async startControl(): Promise<void> {
    this.control = await startControl({ ...this.config, host: '127.0.0.1', port: this.port });
    this.port = this.control.port; // a restart comes back on the same address
  }

  async stopControl(): Promise<void> {
    await this.control?.close();
    this.control = undefined;
  }

  async startAgent(name: string): Promise<Agent> {
    const agent = new Agent({ config: this.configs.get(name)!, log: this.log.child({ node: name }), reconnectBaseMs: 100, reconnectMaxMs: 500, progressIntervalMs: 50, ...this.options.agent });
    const connected = agent.whenConnected();
    await agent.start();
    await connected;
    this.agents.set(name, agent);
    return agent;
  }

  async stopAgent(name: string): Promise<void> {
    await this.agents.get(name)?.stop();
    this.agents.delete(name);
  }

  /** Waits until every node serving the project holds every pinned digest. */
  /**
   * Every node holds what the project pins and no sync job is still open. An agent reports its new
   * inventory a moment before its `sync.done` is recorded, so "in sync" alone can be seen while the
   * job that got it there is still closing.
   */
  async converged(projectId: string, timeoutMs = 60_000) {
    return until(
      'every node in sync, every job closed',
      async () => {
        const rollout = await projectRollout(this.deps, projectId);
        if (rollout.rows.length !== this.configs.size || !rollout.rows.every((r) => r.inSync)) return undefined;
        const open = await this.deps.db.syncJob.count({ where: { state: { in: ['queued', 'dispatched', 'pulling'] } } });
        return open === 0 ? rollout : undefined;
      },
      timeoutMs,
    );
  }

  async stop(): Promise<void> {
    for (const agent of this.agents.values()) await agent.stop();
    await this.stopControl();
    await this.services.close();
    await this.proxy?.close();
    if (this.work) await rm(this.work, { recursive: true, force: true });
  }
}
