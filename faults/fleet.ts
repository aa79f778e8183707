// The whole system as real processes, on services this suite owns so it can kill them: a private
// PostgreSQL cluster, a redis-server and a docker-registry (behind a fault proxy that slows
// pulls), the built control plane, agents (each its own process and cache), and the built web
// dashboard. Killing a service is SIGKILL (a crash); restarting brings it back on the same port
// (PostgreSQL with its data, the registry with its storage, Redis empty as after a crash).
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServiceDeps } from '@cider/api';
import { createEnrollmentToken, createProject, createRegistry, createUser } from '@cider/api/services';
import { findMigrationsDir, migrate } from '@cider/db/migrate';
import { pushArtifact, RegistryClient } from '@cider/oci';
import { startFaultProxy, writeRandomFile, type FaultProxy } from '@cider/oci/testing';
import { freePort, startPrivatePostgres, startRedisServer, startRegistry, waitFor, withDatabase, type PrivatePostgres, type RedisServer, type RunningRegistry } from '@cider/services';
import pg from 'pg';
import { spawnChild, until, type Child } from './processes.ts';

export const root = fileURLToPath(new URL('..', import.meta.url));
const controlMain = join(root, 'apps/control/dist/main.js');
const agentMain = join(root, 'apps/agent/dist/main.js');
const webDir = join(root, 'apps/web');

export const admin = { email: 'admin@faults.test', password: 'fault suite admin password' };
const actor = { label: admin.email };

export interface FleetSettings {
  agents: number;
  /** Control plane settings (seconds), short enough to converge within the suite's bounds. */
  reconcileIntervalS: number;
  syncStallTimeoutS: number;
  heartbeatIntervalS: number;
}

/** What the suite needs built; `npm run test:faults` builds it first. */
export function missingBuilds(): string[] {
  const needed = [controlMain, agentMain, join(webDir, '.next', 'BUILD_ID')];
  return needed.filter((path) => !existsSync(path));
}

export class FaultFleet {
  work = '';
  logDir = '';
  postgres!: PrivatePostgres;
  redis!: RedisServer;
  registry!: RunningRegistry;
  proxy!: FaultProxy;
  databaseUrl = '';
  services!: ReturnType<typeof createServiceDeps>;
  control!: Child;
  web!: Child;
  readonly agents = new Map<string, Child>();
  controlUrl = '';
  webUrl = '';
  projectId = '';
  readonly prefix = 'faults';
  private readonly secretKey = randomBytes(32).toString('base64');
  private registryStorage = '';
  private pusher: RegistryClient | undefined;

  constructor(readonly settings: FleetSettings) {}

  get deps() {
    return this.services.deps;
  }

  /** Where agents pull from: the fault proxy in front of the registry. */
  get registryHost(): string {
    return this.proxy.host;
  }

  private env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return {
      ...process.env,
      DATABASE_URL: this.databaseUrl,
      REDIS_URL: this.redis.url,
      CIDER_REDIS_PREFIX: this.prefix,
      CIDER_SECRET_KEY: this.secretKey,
      LOG_LEVEL: 'info',
      NODE_ENV: 'production',
      NEXT_TELEMETRY_DISABLED: '1',
      ...extra,
    };
  }

  async start(): Promise<void> {
    this.work = await mkdtemp(join(tmpdir(), 'cider-faults-'));
    // As root, PostgreSQL runs as the postgres user, which must reach its data directory in here.
    await chmod(this.work, 0o755);
    this.logDir = join(root, 'test-results', 'faults');
    await rm(this.logDir, { recursive: true, force: true });
    await mkdir(this.logDir, { recursive: true });

    this.postgres = await startPrivatePostgres({ dataDir: join(this.work, 'postgres') });
    const client = new pg.Client({ connectionString: this.postgres.adminUrl });
    await client.connect();
    await client.query('CREATE DATABASE cider');
    await client.end();
    this.databaseUrl = withDatabase(this.postgres.adminUrl, 'cider');
    await migrate({ url: this.databaseUrl, migrationsDir: findMigrationsDir() });
    this.redis = await startRedisServer();
    this.registryStorage = join(this.work, 'registry');
    this.registry = await startRegistry({ storageDir: this.registryStorage });
    this.proxy = await startFaultProxy(this.registry.url);
    this.pusher = new RegistryClient();

    this.services = createServiceDeps({ databaseUrl: this.databaseUrl, redisUrl: this.redis.url, redisPrefix: this.prefix, secretKey: this.secretKey, log: { warn: () => {}, info: () => {} } });
    await createUser(this.deps, { email: admin.email, name: 'Admin', password: admin.password, role: 'admin' });
    await createRegistry(this.deps, actor, { name: 'faults', host: this.registryHost, plainHttp: true, authKind: 'none' });
    const team = await this.deps.db.team.create({ data: { name: 'Platform' } });
    this.projectId = (await createProject(this.deps, actor, { name: 'fault-ci', teamId: team.id, nodeSelector: { pool: 'ci' } })).id;
    const { token } = await createEnrollmentToken(this.deps, actor, { name: 'faults', usesLeft: 100 });

    await this.startControl();
    const tokenFile = join(this.work, 'enrollment-token');
    await writeFile(tokenFile, token, { mode: 0o600 });
    for (let i = 1; i <= this.settings.agents; i++) await this.enrollAndStartAgent(`mac-${i}`, tokenFile);
    await this.startWeb();
  }

  private controlPort = 0;

  get controlMainPath(): string {
    return controlMain;
  }

  private async startControl(): Promise<void> {
    this.controlPort = await freePort();
    this.controlUrl = `http://127.0.0.1:${this.controlPort}`;
    await this.startControlProcess();
    await this.waitForControl();
  }

  /** Starts `cider-control run` on the control plane's address (the agents' configured server). */
  async startControlProcess(): Promise<void> {
    this.control = spawnChild('control', process.execPath, [controlMain, 'run'], {
      cwd: root,
      logDir: this.logDir,
      env: this.env({
        CIDER_CONTROL_HOST: '127.0.0.1',
        CIDER_CONTROL_PORT: String(this.controlPort),
        CIDER_RECONCILE_INTERVAL_S: String(this.settings.reconcileIntervalS),
        CIDER_SYNC_STALL_TIMEOUT_S: String(this.settings.syncStallTimeoutS),
        CIDER_HEARTBEAT_INTERVAL_S: String(this.settings.heartbeatIntervalS),
        CIDER_REGISTRY_WATCH_INTERVAL_S: '3600',
      }),
    });
  }

  async waitForControl(): Promise<void> {
    await waitFor('the control plane', async () => {
      if (!this.control.alive()) throw new Error(`the control plane ${this.control.exitDescription()}`);
      return (await fetch(`${this.controlUrl}/healthz`).catch(() => undefined))?.ok ?? false;
    }, 60_000);
  }

  async stopControl(): Promise<void> {
    await this.control.stop();
  }

  /** A new, empty database on the suite's server; returns its URL. */
  async emptyDatabase(name: string): Promise<string> {
    const client = new pg.Client({ connectionString: this.postgres.adminUrl });
    await client.connect();
    try {
      await client.query(`CREATE DATABASE "${name}"`);
    } finally {
      await client.end();
    }
    return withDatabase(this.postgres.adminUrl, name);
  }

  /** The environment the system's processes get, plus `extra`. */
  processEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return this.env(extra);
  }

  private async enrollAndStartAgent(name: string, tokenFile: string): Promise<void> {
    const config = join(this.work, 'agents', `${name}.json`);
    const cache = join(this.work, 'agents', name);
    await mkdir(join(this.work, 'agents'), { recursive: true });
    const enroll = spawnChild(`enroll-${name}`, process.execPath, [agentMain, 'enroll', '--server', this.controlUrl, '--token-file', tokenFile, '--name', name, '--label', 'pool=ci', '--cache', cache, '--config', config], {
      cwd: root,
      logDir: this.logDir,
      env: this.env(),
    });
    await until(`${name} to enroll`, async () => (enroll.alive() ? undefined : true), 30_000);
    if (enroll.process.child.exitCode !== 0) throw new Error(`enrolling ${name} failed: ${enroll.exitDescription()}`);
    const agent = spawnChild(name, process.execPath, [agentMain, 'run', '--config', config, '--no-peer'], { cwd: root, logDir: this.logDir, env: this.env() });
    this.agents.set(name, agent);
    await until(`${name} to connect`, async () => {
      if (!agent.alive()) throw new Error(`${name} ${agent.exitDescription()}`);
      const node = await this.deps.db.node.findFirst({ where: { name } });
      return node?.state === 'online';
    }, 30_000);
  }

  private async startWeb(): Promise<void> {
    const port = await freePort();
    this.webUrl = `http://127.0.0.1:${port}`;
    this.web = spawnChild('web', process.execPath, [join(root, 'apps/web/server.mjs'), '--port', String(port), '--hostname', '127.0.0.1'], {
      cwd: webDir,
      logDir: this.logDir,
      env: this.env(),
    });
    await waitFor('the web dashboard', async () => {
      if (!this.web.alive()) throw new Error(`the web dashboard ${this.web.exitDescription()}`);
      return (await fetch(`${this.webUrl}/sign-in`).catch(() => undefined))?.ok ?? false;
    }, 60_000);
  }

  /** Pushes `size` random bytes as `<repo>:<tag>` straight to the registry; returns the manifest digest. */
  async push(repository: string, tag: string, size: number): Promise<string> {
    const file = join(this.work, `${repository.replaceAll('/', '_')}-${tag}.bin`);
    await writeRandomFile(file, size);
    return (await pushArtifact({ client: this.pusher!, reference: `${this.registry.host}/${repository}:${tag}`, files: [{ path: file }] })).digest;
  }

  /** Every process of the system that must survive every fault. */
  children(): Child[] {
    return [this.control, this.web, ...this.agents.values()];
  }

  killRedis = () => this.redis.stop('SIGKILL');
  restartRedis = async () => {
    await this.redis.remove(); // the killed server's working directory
    this.redis = await startRedisServer({ port: this.redis.port });
  };
  killPostgres = () => this.postgres.stop('SIGKILL');
  restartPostgres = async () => {
    this.postgres = await startPrivatePostgres({ dataDir: this.postgres.dataDir, port: this.postgres.port });
  };
  killRegistry = () => this.registry.stop('SIGKILL');
  restartRegistry = async () => {
    this.registry = await startRegistry({ port: this.registry.port, storageDir: this.registryStorage });
  };

  async stop(keepWork: boolean): Promise<void> {
    for (const child of [...this.agents.values()].reverse()) await child.stop().catch(() => {});
    await this.web?.stop().catch(() => {});
    await this.control?.stop().catch(() => {});
    await this.services?.close().catch(() => {});
    await this.pusher?.close().catch(() => {});
    await this.proxy?.close().catch(() => {});
    await this.registry?.stop().catch(() => {});
    await this.redis?.remove().catch(() => {});
    await this.postgres?.stop('SIGINT').catch(() => {});
    if (!keepWork && this.work) await rm(this.work, { recursive: true, force: true });
  }
}
