// `npm run bench:fleet`: a rollout of one image to N real agents, each its own process with its
// own cache, its own loopback address (127.0.0.<10+i>) and its own peer port, driven by a real
// control plane, from a real registry behind a proxy that caps the registry's total throughput
// like a site's WAN uplink and counts the blob bytes it served (wan-proxy.ts).
//
// First one agent (--no-peer) pulls the image alone over the same capped link: the single-pull
// baseline. That node and its cache are then thrown away, the proxy's counters reset, and the
// fleet's project is pinned; the clock runs from the pin to the last node's finished sync job.
// Prints a table, PASS/MISS per target (never fails on a miss: it is a benchmark), and as its last
// line a JSON summary.
//
// Options: --nodes N (8), --size S (1GiB), --registry-rate R (40MB/s), --registry host:port (an
// existing plain-HTTP registry to push the test image to), --piece-size S (see pieceSizeFor),
// --keep DIR (each node's cache stays in DIR/<node>, logs in DIR/logs), --kill-peer-at P
// (SIGKILL the node that uploaded most once the rollout is P% done), --tamper-peer (one agent
// runs with CIDER_PEER_TAMPER=1 and serves corrupted pieces).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServiceDeps } from '@cider/api';
import { createEnrollmentToken, createProject, createRegistry, setPin } from '@cider/api/services';
import { findMigrationsDir, migrate } from '@cider/db/migrate';
import { pushImage, RegistryClient } from '@cider/oci';
import { writeRandomFile } from '@cider/oci/testing';
import { deleteKeys, ensurePostgres, ensureRedis, freePort, startRegistry, withDatabase, type RunningRegistry } from '@cider/services';
import pg from 'pg';
import { startWanProxy, type WanProxy } from './wan-proxy.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const controlMain = join(root, 'apps/control/dist/main.js');
const agentMain = join(root, 'apps/agent/dist/main.js');
const MiB = 1024 * 1024;
const actor = { label: 'bench:fleet' };

// --- options ---

function parseBytes(text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)?$/i.exec(text.trim());
  if (!match) throw new Error(`${flag} ${text}: use e.g. 1GiB, 256MiB, 500MB`);
  const units: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: MiB, gib: 1024 * MiB };
  return Math.round(Number(match[1]) * units[(match[2] ?? 'b').toLowerCase()]!);
}

function parseRate(text: string): number {
  return parseBytes(text.replace(/\/s$/i, ''), '--registry-rate');
}

interface Options {
  nodes: number;
  size: number;
  rate: number;
  registry?: string;
  keep?: string;
  killPeerAt?: number;
  tamperPeer: boolean;
  pieceSize: number;
}

/**
 * About 64 pieces per image, a power of two from 1 MiB to the publisher's default 64 MiB: at 8
 * nodes each node then has several pieces to trade, and a 16 MiB piece (1 GiB image) lands in
 * 0.4 s at 40 MB/s, so a peer can serve it soon after the registry sent it. 64 MiB is right for a
 * 15 GB IPSW (240 pieces), not for a 128 MiB test image (2 pieces: nothing to swarm on).
 */
export function pieceSizeFor(imageBytes: number): number {
  let size = MiB;
  while (size * 2 <= imageBytes / 64 && size < 64 * MiB) size *= 2;
  return size;
}

function parseOptions(argv: string[]): Options {
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    if (i < 0) return undefined;
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`${flag} needs a value`);
    return v;
  };
  const known = new Set(['--nodes', '--size', '--registry-rate', '--registry', '--keep', '--kill-peer-at', '--tamper-peer', '--piece-size']);
  for (const arg of argv) if (arg.startsWith('--') && !known.has(arg)) throw new Error(`unknown option ${arg} (known: ${[...known].join(', ')})`);
  const nodes = Number(value('--nodes') ?? 8);
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 200) throw new Error('--nodes: 1 to 200 (each node is 127.0.0.<10+i>)');
  const size = parseBytes(value('--size') ?? '1GiB', '--size');
  if (size < 1) throw new Error('--size: at least one byte');
  const rate = parseRate(value('--registry-rate') ?? '40MB/s');
  if (rate < 1024) throw new Error('--registry-rate: at least 1 KB/s');
  const killText = value('--kill-peer-at');
  const killPeerAt = killText === undefined ? undefined : Number(killText.replace(/%$/, ''));
  if (killPeerAt !== undefined && !(killPeerAt > 0 && killPeerAt < 100)) throw new Error('--kill-peer-at: a percentage between 0 and 100');
  if (killPeerAt !== undefined && nodes < 2) throw new Error('--kill-peer-at needs at least 2 nodes');
  const registry = value('--registry');
  if (registry !== undefined && !/^[\w.-]+(:\d+)?$/.test(registry)) throw new Error('--registry: host:port');
  const keepText = value('--keep');
  // npm runs the workspace script in apps/control: a relative DIR means where the user typed it.
  const keep = keepText === undefined ? undefined : isAbsolute(keepText) ? keepText : resolve(process.env.INIT_CWD ?? process.cwd(), keepText);
  const pieceText = value('--piece-size');
  const pieceSize = pieceText === undefined ? pieceSizeFor(size) : parseBytes(pieceText, '--piece-size');
  return { nodes, size, rate, registry, keep, killPeerAt, tamperPeer: argv.includes('--tamper-peer'), pieceSize };
}

// --- cancellation: Ctrl-C (or SIGTERM) aborts whatever is waiting, and the cleanup runs ---

const interrupt = new AbortController();
const children = new Set<ChildProcess>();
let interruptedAt = 0;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (!interruptedAt) {
      interruptedAt = Date.now();
      console.error(`\n${signal}: stopping and cleaning up (again to kill everything at once)`);
      interrupt.abort(new Error(`interrupted by ${signal}`));
      // One Ctrl-C arrives twice: from the terminal to the whole process group, and relayed by tsx.
    } else if (Date.now() - interruptedAt > 2_000) {
      for (const child of children) child.kill('SIGKILL');
      process.exit(130);
    }
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    if (interrupt.signal.aborted) return reject(interrupt.signal.reason as Error);
    const onAbort = () => {
      clearTimeout(timer);
      reject(interrupt.signal.reason as Error);
    };
    const timer = setTimeout(() => {
      interrupt.signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    interrupt.signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Polls until `probe` returns a value, at most `timeoutMs`. */
async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs: number, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() >= deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    await sleep(intervalMs);
  }
}

// --- processes ---

interface Proc {
  name: string;
  child: ChildProcess;
  logFile: string;
  exited: Promise<void>;
  alive(): boolean;
  tail(): string;
}

function startProc(name: string, args: string[], env: NodeJS.ProcessEnv, logDir: string): Proc {
  const logFile = join(logDir, `${name}.log`);
  // Straight to a file: eight chatty agents over minutes are not worth holding in this process.
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  children.add(child);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  void exited.then(() => children.delete(child));
  const alive = () => child.exitCode === null && child.signalCode === null;
  const tail = () => {
    try {
      return readFileSync(logFile, 'utf8').slice(-2_000);
    } catch {
      return '';
    }
  };
  return { name, child, logFile, exited, alive, tail };
}

async function stopProc(proc: Proc | undefined, graceMs = 10_000): Promise<void> {
  if (!proc?.alive()) return;
  proc.child.kill('SIGTERM');
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), graceMs);
  await proc.exited;
  clearTimeout(timer);
}

/** Peak resident memory so far, in MB (VmHWM, or VmRSS where the kernel keeps no high-water mark); undefined off Linux. */
async function peakRssMB(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined);
  if (!status) return undefined;
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? /VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return Number.isFinite(kb) ? kb / 1024 : undefined;
}

// --- what the database says ---

interface JobRow {
  name: string;
  state: string;
  bytesDone: number;
  startedAt: Date | null;
  finishedAt: Date | null;
  attempts: number;
  error: string | null;
  bytesFromRegistry: number | null;
  bytesFromPeers: number | null;
}

interface NodeRow {
  name: string;
  uploadedBytes: number | undefined;
  peerPort: number | undefined;
  badPeerData: boolean;
}

class FleetDb {
  readonly pool: pg.Pool;
  private columns = new Set<string>();

  constructor(url: string) {
    this.pool = new pg.Pool({ connectionString: url, max: 2, statement_timeout: 10_000, connectionTimeoutMillis: 10_000 });
  }

  /** Columns another change may or may not have added yet: read only what is there. */
  async loadColumns(): Promise<void> {
    const { rows } = await this.pool.query<{ t: string; c: string }>(
      `SELECT table_name AS t, column_name AS c FROM information_schema.columns WHERE table_schema = current_schema() AND table_name IN ('sync_jobs', 'nodes')`,
    );
    this.columns = new Set(rows.map((r) => `${r.t}.${r.c}`));
  }

  has(column: string): boolean {
    return this.columns.has(column);
  }

  /** Each node's latest sync job for `digest`. */
  async jobs(digest: string, names: string[]): Promise<Map<string, JobRow>> {
    const extra = [this.has('sync_jobs.bytes_from_registry') ? 'j.bytes_from_registry' : 'NULL AS bytes_from_registry', this.has('sync_jobs.bytes_from_peers') ? 'j.bytes_from_peers' : 'NULL AS bytes_from_peers'];
    const { rows } = await this.pool.query<Record<string, unknown>>(
      `SELECT DISTINCT ON (j.node_id) n.name, j.state, j.bytes_done, j.started_at, j.finished_at, j.attempts, j.error, ${extra.join(', ')}
         FROM sync_jobs j JOIN nodes n ON n.id = j.node_id
        WHERE j.digest = $1 AND n.name = ANY($2)
        ORDER BY j.node_id, j.created_at DESC`,
      [digest, names],
    );
    const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
    return new Map(
      rows.map((r) => [
        r.name as string,
        {
          name: r.name as string,
          state: r.state as string,
          bytesDone: Number(r.bytes_done),
          startedAt: r.started_at as Date | null,
          finishedAt: r.finished_at as Date | null,
          attempts: Number(r.attempts),
          error: r.error as string | null,
          bytesFromRegistry: num(r.bytes_from_registry),
          bytesFromPeers: num(r.bytes_from_peers),
        },
      ]),
    );
  }

  async holders(digest: string, names: string[]): Promise<Set<string>> {
    const { rows } = await this.pool.query<{ name: string }>(`SELECT n.name FROM node_images i JOIN nodes n ON n.id = i.node_id WHERE i.digest = $1 AND n.name = ANY($2)`, [digest, names]);
    return new Set(rows.map((r) => r.name));
  }

  async nodes(names: string[]): Promise<Map<string, NodeRow>> {
    const conditions = this.has('nodes.conditions') ? 'conditions' : `'[]'::jsonb AS conditions`;
    const { rows } = await this.pool.query<{ name: string; state: string; facts: unknown; conditions: unknown }>(`SELECT name, state, facts, ${conditions} FROM nodes WHERE name = ANY($1)`, [names]);
    return new Map(
      rows.map((r) => {
        const peer = (r.facts as { peer?: { port?: number; uploadedBytes?: number } } | null)?.peer;
        const list = Array.isArray(r.conditions) ? (r.conditions as { type?: string }[]) : [];
        return [r.name, { name: r.name, uploadedBytes: peer?.uploadedBytes, peerPort: peer?.port, badPeerData: list.some((c) => c?.type === 'bad-peer-data') }];
      }),
    );
  }

  async state(name: string): Promise<string | undefined> {
    const { rows } = await this.pool.query<{ state: string }>(`SELECT state FROM nodes WHERE name = $1`, [name]);
    return rows[0]?.state;
  }
}

// --- the benchmark ---

interface Agent {
  name: string;
  address: string;
  peerPort: number;
  cache: string;
  proc: Proc;
  peakMB?: number;
  killed?: boolean;
}

const fmtMB = (bytes: number | null | undefined) => (bytes === null || bytes === undefined ? '-' : (bytes / 1e6).toFixed(1));
const fmtS = (ms: number | undefined) => (ms === undefined ? '-' : (ms / 1000).toFixed(1));

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')).join('\n');
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  for (const built of [controlMain, agentMain]) if (!existsSync(built)) throw new Error(`${built} is missing: run npm run bench:fleet from the repository root (it builds first)`);
  const log = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);

  const work = await mkdtemp(join(tmpdir(), 'cider-bench-fleet-'));
  const cacheRoot = options.keep ?? join(work, 'nodes');
  // Logs outlive the run (a failed rollout is read from them): bench-results/fleet-logs, or DIR/logs.
  const logDir = options.keep ? join(options.keep, 'logs') : join(root, 'bench-results', 'fleet-logs');
  await mkdir(cacheRoot, { recursive: true, mode: 0o755 });
  await rm(logDir, { recursive: true, force: true });
  await mkdir(logDir, { recursive: true });
  await mkdir(join(work, 'config'), { recursive: true });

  const cleanups: (() => Promise<unknown>)[] = [];
  const procs: Proc[] = [];
  const agents: Agent[] = [];
  let samplerTimer: NodeJS.Timeout | undefined;
  let summary = '';
  try {
    const postgres = await ensurePostgres({ url: process.env.TEST_DATABASE_URL, embeddedDir: join(root, '.cider', 'test-postgres') });
    cleanups.push(() => postgres.stop());
    const redis = await ensureRedis({ url: process.env.TEST_REDIS_URL });
    cleanups.push(() => redis.stop());
    const database = `cider_bench_fleet_${process.pid}`;
    const admin = new pg.Client({ connectionString: postgres.adminUrl });
    await admin.connect();
    cleanups.push(async () => {
      await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
      await admin.end();
    });
    await admin.query(`CREATE DATABASE "${database}"`);
    const databaseUrl = withDatabase(postgres.adminUrl, database);
    await migrate({ url: databaseUrl, migrationsDir: findMigrationsDir() });
    const prefix = `benchfleet${process.pid}`;
    cleanups.push(() => deleteKeys(redis.url, `${prefix}*`));
    const secretKey = randomBytes(32).toString('base64');
    const services = createServiceDeps({ databaseUrl, redisUrl: redis.url, redisPrefix: prefix, secretKey, log: { warn: () => {}, info: () => {} } });
    cleanups.push(() => services.close());
    const { deps } = services;
    const db = new FleetDb(databaseUrl);
    cleanups.push(() => db.pool.end());
    await db.loadColumns();

    // The registry (ours, or the one given) and the capped uplink in front of it.
    let registry: RunningRegistry | undefined;
    if (!options.registry) {
      registry = await startRegistry({ storageDir: join(work, 'registry') });
      cleanups.push(() => registry!.stop());
    }
    const registryHost = options.registry ?? registry!.host;
    const proxy: WanProxy = await startWanProxy({ upstream: `http://${registryHost}`, bytesPerSecond: options.rate });
    cleanups.push(() => proxy.close());

    // The image: random bytes published as an image with piece digests, pushed past the proxy.
    log(`publishing ${fmtMB(options.size)} MB (pieces of ${options.pieceSize / MiB} MiB) to ${registryHost}`);
    const payload = join(work, 'payload.img');
    await writeRandomFile(payload, options.size);
    const pusher = new RegistryClient({ plainHttp: [registryHost] });
    const tag = `fleet-${Date.now()}-${process.pid}`;
    const published = await pushImage({
      client: pusher,
      repository: `${registryHost}/bench/fleet:${tag}`,
      files: [{ path: payload, kind: 'disk', name: 'payload.img' }],
      facts: { os: 'macOS', version: '15.2', architecture: 'arm64', platform: { os: 'darwin', architecture: 'arm64' } },
      tags: [tag],
      pieceSize: options.pieceSize,
    });
    await pusher.close();
    await rm(payload, { force: true });
    const digest = published.digest;
    const imageBytes = published.size;
    const reference = `${proxy.host}/bench/fleet:${tag}`;

    // Agents reach the registry only through the proxy: that is the registry the control plane knows.
    await createRegistry(deps, actor, { name: 'bench', host: proxy.host, plainHttp: true, authKind: 'none' });
    const team = await deps.db.team.create({ data: { name: 'Bench' } });
    const single = await createProject(deps, actor, { name: 'single', teamId: team.id, nodeSelector: { pool: 'single' } });
    const fleet = await createProject(deps, actor, { name: 'fleet', teamId: team.id, nodeSelector: { pool: 'fleet' } });
    const { token } = await createEnrollmentToken(deps, actor, { name: 'bench', usesLeft: options.nodes + 1 });
    const tokenFile = join(work, 'config', 'enrollment-token');
    await writeFile(tokenFile, token, { mode: 0o600 });

    const controlPort = await freePort();
    const controlUrl = `http://127.0.0.1:${controlPort}`;
    const control = startProc('control', [controlMain, 'run'], {
      ...process.env,
      DATABASE_URL: databaseUrl,
      REDIS_URL: redis.url,
      CIDER_REDIS_PREFIX: prefix,
      CIDER_SECRET_KEY: secretKey,
      CIDER_CONTROL_HOST: '127.0.0.1',
      CIDER_CONTROL_PORT: String(controlPort),
      // Facts every 2 s: --kill-peer-at reads upload counts from them.
      CIDER_HEARTBEAT_INTERVAL_S: '2',
      CIDER_RECONCILE_INTERVAL_S: '30',
      CIDER_REGISTRY_WATCH_INTERVAL_S: '3600',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
    }, logDir);
    procs.push(control);
    await until('the control plane', async () => {
      if (!control.alive()) throw new Error(`the control plane exited:\n${control.tail()}`);
      return (await fetch(`${controlUrl}/healthz`).catch(() => undefined))?.ok ?? false;
    }, 60_000);

    const agentEnv: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'info' };
    delete agentEnv.DATABASE_URL;
    const startAgent = async (name: string, pool: string, runArgs: string[], env: NodeJS.ProcessEnv): Promise<Proc> => {
      const config = join(work, 'config', `${name}.json`);
      const cache = join(cacheRoot, name);
      const enroll = startProc(`enroll-${name}`, [agentMain, 'enroll', '--server', controlUrl, '--token-file', tokenFile, '--name', name, '--label', `pool=${pool}`, '--cache', cache, '--config', config], agentEnv, logDir);
      await until(`${name} to enroll`, async () => !enroll.alive(), 30_000).catch(async (error: unknown) => {
        await stopProc(enroll, 0);
        throw error;
      });
      if (enroll.child.exitCode !== 0) throw new Error(`enrolling ${name} failed:\n${enroll.tail()}`);
      const proc = startProc(name, [agentMain, 'run', '--config', config, ...runArgs], env, logDir);
      procs.push(proc);
      await until(`${name} to connect`, async () => {
        if (!proc.alive()) throw new Error(`${name} exited:\n${proc.tail()}`);
        return (await db.state(name)) === 'online';
      }, 30_000);
      return proc;
    };

    const waitForJobs = async (names: string[], pinnedAt: number, deadlineMs: number, onPoll?: (jobs: Map<string, JobRow>) => Promise<void>) => {
      const deadline = pinnedAt + deadlineMs;
      for (;;) {
        const alive = names.filter((n) => !agents.find((a) => a.name === n)?.killed);
        const jobs = await db.jobs(digest, names);
        await onPoll?.(jobs);
        if (alive.every((n) => jobs.get(n)?.state === 'done')) return { jobs, timedOut: false };
        if (Date.now() > deadline) return { jobs, timedOut: true };
        await sleep(500);
      }
    };

    // --- the single pull: one agent alone on the same capped link ---
    log(`single pull over ${fmtMB(options.rate)} MB/s (the link alone needs ${(imageBytes / options.rate).toFixed(1)} s)`);
    const soloProc = await startAgent('single', 'single', ['--no-peer'], agentEnv);
    proxy.reset();
    const soloPinnedAt = Date.now();
    await setPin(deps, actor, { projectId: single.id, reference, mode: 'follow' });
    const soloWait = await waitForJobs(['single'], soloPinnedAt, Math.max(600_000, (20_000 * imageBytes) / options.rate));
    const soloJob = soloWait.jobs.get('single');
    if (soloWait.timedOut || !soloJob?.finishedAt) throw new Error(`the single pull did not finish (${soloJob?.state ?? 'no job'}${soloJob?.error ? `: ${soloJob.error}` : ''})`);
    const singleMs = soloJob.finishedAt.getTime() - soloPinnedAt;
    const singleRegistryBytes = proxy.counters.blobBytes;
    const singlePeakMB = await peakRssMB(soloProc.child.pid);
    log(`single pull: ${fmtS(singleMs)} s, ${fmtMB(singleRegistryBytes)} MB from the registry, peak RSS ${singlePeakMB?.toFixed(0) ?? '-'} MB`);
    // Gone before the rollout: offline, its row deleted (so no tracker offers it as a holder), its cache removed.
    await stopProc(soloProc);
    await until('the single node to go offline', async () => (await db.state('single')) !== 'online', 30_000).catch(() => undefined);
    await db.pool.query(`DELETE FROM nodes WHERE name = 'single'`).catch(async () => {
      await db.pool.query(`DELETE FROM node_images WHERE node_id = (SELECT id FROM nodes WHERE name = 'single')`);
    });
    await rm(join(cacheRoot, 'single'), { recursive: true, force: true });

    // --- the fleet ---
    const names = Array.from({ length: options.nodes }, (_, i) => `node-${String(i + 1).padStart(2, '0')}`);
    const tampered = options.tamperPeer ? names[0] : undefined;
    log(`starting ${options.nodes} agents${tampered ? ` (${tampered} serves corrupted pieces)` : ''}`);
    for (const [i, name] of names.entries()) {
      const address = `127.0.0.${10 + i}`;
      const peerPort = await freePort();
      const env = name === tampered ? { ...agentEnv, CIDER_PEER_TAMPER: '1' } : agentEnv;
      const proc = await startAgent(name, 'fleet', ['--peer-host', address, '--peer-port', String(peerPort)], env);
      agents.push({ name, address, peerPort, cache: join(cacheRoot, name), proc });
    }
    // The peer servers start once the welcome brings the ticket key, and show in the next facts.
    const peersUp = await until('every peer server in the facts', async () => {
      const nodes = await db.nodes(names);
      return names.every((n) => nodes.get(n)?.peerPort !== undefined);
    }, 30_000).catch((error: unknown) => {
      log(`warning: ${error instanceof Error ? error.message : String(error)}; going on`);
      return false;
    });

    const sample = async () => {
      for (const agent of agents) {
        if (!agent.proc.alive()) continue;
        const mb = await peakRssMB(agent.proc.child.pid);
        if (mb !== undefined) agent.peakMB = Math.max(agent.peakMB ?? 0, mb);
      }
    };
    samplerTimer = setInterval(() => void sample(), 250);

    proxy.reset();
    const pinnedAt = Date.now();
    log(`pinned ${reference} for the fleet; waiting for ${options.nodes} nodes`);
    let killed: { name: string; atPercent: number; by: string; uploadedBytes?: number } | undefined;
    let lastReport = 0;
    const rolloutDeadlineMs = Math.max(600_000, 20 * singleMs);
    await setPin(deps, actor, { projectId: fleet.id, reference, mode: 'follow' });
    const rollout = await waitForJobs(names, pinnedAt, rolloutDeadlineMs, async (jobs) => {
      const done = names.reduce((sum, n) => {
        const job = jobs.get(n);
        return sum + (job?.state === 'done' ? imageBytes : Math.min(job?.bytesDone ?? 0, imageBytes));
      }, 0);
      const percent = (100 * done) / (options.nodes * imageBytes);
      if (Date.now() - lastReport > 5_000) {
        lastReport = Date.now();
        const finished = names.filter((n) => jobs.get(n)?.state === 'done').length;
        log(`${percent.toFixed(0)}% (${finished}/${options.nodes} done), registry ${fmtMB(proxy.counters.blobBytes)} MB`);
      }
      if (options.killPeerAt !== undefined && !killed && percent >= options.killPeerAt) {
        const nodes = await db.nodes(names);
        // The tampering node stays: its bad-peer-data verdict is what --tamper-peer measures.
        const alive = agents.filter((a) => a.proc.alive() && (a.name !== tampered || agents.length < 3));
        const uploads = alive.map((a) => ({ agent: a, bytes: nodes.get(a.name)?.uploadedBytes ?? 0 }));
        const top = uploads.reduce((best, u) => (u.bytes > best.bytes ? u : best), uploads[0]!);
        // No uploads reported (no peer downloads yet): the node farthest along, most likely to be serving.
        const victim = top.bytes > 0 ? top.agent : alive.reduce((best, a) => ((jobs.get(a.name)?.bytesDone ?? 0) > (jobs.get(best.name)?.bytesDone ?? 0) ? a : best), alive[0]!);
        await sample();
        victim.killed = true;
        victim.proc.child.kill('SIGKILL');
        killed = { name: victim.name, atPercent: Math.round(percent * 10) / 10, by: top.bytes > 0 ? 'peer.uploadedBytes' : 'bytesDone (no uploads reported)', ...(top.bytes > 0 ? { uploadedBytes: top.bytes } : {}) };
        log(`SIGKILL ${victim.name} at ${killed.atPercent}% (${killed.by})`);
      }
    });
    clearInterval(samplerTimer);
    samplerTimer = undefined;
    await sample();
    const registryBytes = proxy.counters.blobBytes;
    const registryTotalBytes = proxy.counters.totalBytes;

    // --- results ---
    const holders = await db.holders(digest, names);
    const nodes = await db.nodes(names);
    const survivors = agents.filter((a) => !a.killed);
    const converged = survivors.filter((a) => holders.has(a.name)).length;
    const finishes = survivors.map((a) => rollout.jobs.get(a.name)?.finishedAt?.getTime()).filter((t): t is number => t !== undefined);
    const rolloutMs = rollout.timedOut ? Date.now() - pinnedAt : Math.max(...finishes) - pinnedAt;
    const peak = Math.max(0, ...agents.map((a) => a.peakMB ?? 0));
    const controlPeak = await peakRssMB(control.child.pid);
    const badPeerData = names.filter((n) => nodes.get(n)?.badPeerData);

    const perNode = agents.map((a) => {
      const job = rollout.jobs.get(a.name);
      return {
        node: a.name,
        address: `${a.address}:${a.peerPort}`,
        state: a.killed ? 'killed' : (job?.state ?? 'no job'),
        seconds: job?.finishedAt ? (job.finishedAt.getTime() - pinnedAt) / 1000 : null,
        converged: holders.has(a.name),
        bytesFromRegistry: job?.bytesFromRegistry ?? null,
        bytesFromPeers: job?.bytesFromPeers ?? null,
        uploadedBytes: nodes.get(a.name)?.uploadedBytes ?? null,
        peakRssMB: a.peakMB === undefined ? null : Math.round(a.peakMB),
        badPeerData: nodes.get(a.name)?.badPeerData ?? false,
        attempts: job?.attempts ?? 0,
        ...(job?.error ? { error: job.error.slice(0, 200) } : {}),
      };
    });
    console.log('');
    console.log(
      table([
        ['node', 'peer address', 'state', 'done at s', 'registry MB', 'peers MB', 'uploaded MB', 'peak RSS MB', 'notes'],
        ...perNode.map((n) => [
          n.node,
          n.address,
          n.state,
          n.seconds === null ? '-' : n.seconds.toFixed(1),
          fmtMB(n.bytesFromRegistry),
          fmtMB(n.bytesFromPeers),
          fmtMB(n.uploadedBytes),
          n.peakRssMB === null ? '-' : String(n.peakRssMB),
          [n.node === tampered ? 'tampering' : '', n.badPeerData ? 'bad-peer-data' : '', n.converged ? '' : 'not converged', n.error ?? ''].filter(Boolean).join(', '),
        ]),
      ]),
    );

    const egressRatio = registryBytes / imageBytes;
    const wallRatio = rolloutMs / singleMs;
    const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');
    const targets = {
      registryEgress: verdict(egressRatio <= 1.1),
      rolloutWall: verdict(!rollout.timedOut && wallRatio <= 2),
      converged: verdict(converged === survivors.length),
      agentPeakRss: verdict(peak <= 150),
    };
    console.log('');
    console.log(
      table([
        ['measure', 'value', 'target', ''],
        ['image', `${fmtMB(imageBytes)} MB in ${published.config.files[0]!.parts[0]!.pieces.length} pieces of ${options.pieceSize / MiB} MiB`, '-', ''],
        ['registry link', `${fmtMB(options.rate)} MB/s shared (floor for one pull ${(imageBytes / options.rate).toFixed(1)} s)`, '-', ''],
        ['single pull', `${fmtS(singleMs)} s, ${fmtMB(singleRegistryBytes)} MB from the registry`, '-', ''],
        [`rollout to ${options.nodes} nodes`, `${fmtS(rolloutMs)} s${rollout.timedOut ? ' (timed out)' : ''} = ${wallRatio.toFixed(2)} x single pull`, '<= 2 x', targets.rolloutWall],
        ['registry egress', `${fmtMB(registryBytes)} MB = ${egressRatio.toFixed(2)} x image`, '<= 1.1 x', targets.registryEgress],
        ['converged', `${converged} of ${survivors.length}${killed ? ` survivors (${killed.name} killed at ${killed.atPercent}%)` : ''}`, 'all', targets.converged],
        ['agent peak RSS (max)', `${peak.toFixed(0)} MB`, '<= 150 MB', targets.agentPeakRss],
        ['control peak RSS', `${controlPeak?.toFixed(0) ?? '-'} MB`, '-', ''],
        ...(tampered ? [['bad-peer-data raised on', badPeerData.length ? badPeerData.join(', ') : 'no node', tampered, verdict(badPeerData.includes(tampered))]] : []),
      ]),
    );
    if (!db.has('sync_jobs.bytes_from_registry')) console.log('(the database has no bytes_from_registry/bytes_from_peers yet: per-node sources are blank)');
    else if (perNode.every((n) => n.bytesFromRegistry === null && n.bytesFromPeers === null)) console.log('(no agent reported its bytes by source in sync.done: per-node sources are blank)');
    if (!peersUp) console.log('(not every peer server showed in the facts)');

    const result = {
      nodes: options.nodes,
      imageBytes,
      pieceSize: options.pieceSize,
      registryRateBytesPerSecond: options.rate,
      registryBytes,
      registryTotalBytes,
      registryEgressRatio: Number(egressRatio.toFixed(3)),
      singlePullSeconds: singleMs / 1000,
      singleRegistryBytes,
      rolloutSeconds: rolloutMs / 1000,
      rolloutRatio: Number(wallRatio.toFixed(3)),
      timedOut: rollout.timedOut,
      converged,
      survivors: survivors.length,
      allConverged: converged === survivors.length,
      peakRssMB: Math.round(peak),
      controlPeakRssMB: controlPeak === undefined ? null : Math.round(controlPeak),
      killed: killed ?? null,
      tamperedNode: tampered ?? null,
      badPeerData,
      targets,
      perNode,
    };
    await writeFile(join(root, 'bench-results', 'fleet.json'), `${JSON.stringify(result, null, 2)}\n`);
    console.log(options.keep ? `kept every node's cache in ${options.keep} (logs in ${logDir})` : `logs in ${logDir}`);
    summary = JSON.stringify(result);
  } finally {
    if (samplerTimer) clearInterval(samplerTimer);
    // Agents first (they would reconnect and retry), then control, then the services.
    for (const proc of [...procs].reverse()) await stopProc(proc).catch(() => {});
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error: unknown) => console.error(`cleanup: ${error instanceof Error ? error.message : String(error)}`));
    if (!summary) console.error(`logs in ${logDir}`);
    await rm(work, { recursive: true, force: true });
  }
  // Last, after the cleanup's messages: the line scripts read.
  console.log(summary);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`bench:fleet failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
