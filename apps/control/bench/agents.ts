// `npm run bench -w @cider/control`: 1,000 simulated agents (sim-agent.ts: WebSocket clients
// speaking the real protocol: authenticated upgrade, hello with facts, a `queued` ack per sync job)
// connected to one control process. Measures the time from setting a pin to every agent
// holding its sync job (each with its peer plan: every simulated Mac reports a peer server, so
// the tracker plans candidates and origins for each dispatch), and the control process's peak
// RSS. Writes bench-results/control.json.
// Options: --agents N (default 1000), --cpu-prof DIR (profile the control process).
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServiceDeps } from '@cider/api';
import { createProject, createRegistry, hashToken, setPin } from '@cider/api/services';
import { findMigrationsDir, migrate } from '@cider/db/migrate';
import { pushArtifact, RegistryClient } from '@cider/oci';
import type { HostFacts } from '@cider/protocol';
import { simFacts } from '../testing/wire.ts';
import { deleteKeys, ensurePostgres, ensureRedis, freePort, startProcess, startRegistry, waitFor, withDatabase } from '@cider/services';
import pg from 'pg';
import { connectSimAgent, type SimAgent } from './sim-agent.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const controlMain = join(root, 'apps/control/dist/main.js');
const args = process.argv.slice(2);
const agentCount = Number(args[args.indexOf('--agents') + 1]) || 1000;
/** --cpu-prof DIR: the control process writes a V8 CPU profile there (open it in Chrome's DevTools). */
const cpuProfDir = args.includes('--cpu-prof') ? args[args.indexOf('--cpu-prof') + 1] : undefined;

/** Each simulated Mac's facts: the test fleet's, with a peer server at an address of its own (so each is a peer candidate). */
function factsOf(index: number): HostFacts {
  return { ...simFacts, peer: { port: 7941, addresses: [`127.${(index >> 16) & 255}.${(index >> 8) & 255}.${(index & 255) || 1}`], uploadedBytes: 0, uploadsInFlight: 0 } };
}
async function peakRssMB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

async function main(): Promise<void> {
  if (!existsSync(controlMain)) throw new Error('Build first: npm run build');
  const work = await mkdtemp(join(tmpdir(), 'cider-bench-control-'));
  const postgres = await ensurePostgres({ url: process.env.TEST_DATABASE_URL, embeddedDir: join(root, '.cider', 'test-postgres') });
  const redis = await ensureRedis({ url: process.env.TEST_REDIS_URL });
  const registry = await startRegistry();
  const database = `cider_bench_${process.pid}`;
  const admin = new pg.Client({ connectionString: postgres.adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${database}"`);
  const databaseUrl = withDatabase(postgres.adminUrl, database);
  const prefix = `bench${process.pid}`;
  const secretKey = randomBytes(32).toString('base64');
  const services = createServiceDeps({ databaseUrl, redisUrl: redis.url, redisPrefix: prefix, secretKey });
  const agents: SimAgent[] = [];
  let control: ReturnType<typeof startProcess> | undefined;
  try {
    await migrate({ url: databaseUrl, migrationsDir: findMigrationsDir() });
    const { deps } = services;
    // A small image to pin, a registry, a project every node serves.
    const file = join(work, 'payload.bin');
    await writeFile(file, randomBytes(1024));
    const client = new RegistryClient();
    await pushArtifact({ client, reference: `${registry.host}/bench/macos:15.2`, files: [{ path: file }] });
    await client.close();
    const actor = { label: 'bench' };
    await createRegistry(deps, actor, { name: 'bench', host: registry.host, plainHttp: true, authKind: 'none' });
    const team = await deps.db.team.create({ data: { name: 'Bench' } });
    const project = await createProject(deps, actor, { name: 'bench', teamId: team.id, nodeSelector: {} });

    // The nodes, as enrollment would leave them (enrolling 1,000 over HTTP is not what is measured).
    const nodes = Array.from({ length: agentCount }, (_, i) => ({ name: `sim-${i}`, secret: randomBytes(16).toString('hex') }));
    await deps.db.node.createMany({ data: nodes.map((n) => ({ name: n.name, secretHash: hashToken(n.secret), labels: { pool: 'bench' } })) });
    const ids = new Map((await deps.db.node.findMany({ select: { id: true, name: true } })).map((n) => [n.name, n.id]));

    const port = await freePort();
    control = startProcess(process.execPath, [...(cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : []), controlMain, 'run'], {
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        REDIS_URL: redis.url,
        CIDER_REDIS_PREFIX: prefix,
        CIDER_SECRET_KEY: secretKey,
        CIDER_CONTROL_PORT: String(port),
        // Every simulated agent may hold a job at once: what is measured is dispatch, not pulling.
        CIDER_MAX_CONCURRENT_PULLS: String(agentCount),
        CIDER_HEARTBEAT_INTERVAL_S: '30',
        LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      },
    });
    const controlUrl = `http://127.0.0.1:${port}`;
    await waitFor('control plane', async () => (await fetch(`${controlUrl}/healthz`).catch(() => undefined))?.ok ?? false, 30_000);

    const connectStart = Date.now();
    let received = 0;
    let allReceived: () => void = () => {};
    const everyone = new Promise<void>((resolve) => (allReceived = resolve));
    const onSync = () => {
      if (++received === agentCount) allReceived();
    };
    for (let i = 0; i < nodes.length; i += 100) {
      const batch = nodes.slice(i, i + 100);
      agents.push(...(await Promise.all(batch.map((n, j) => connectSimAgent({ controlUrl, nodeId: ids.get(n.name)!, secret: n.secret, facts: factsOf(i + j + 1), onSync })))));
    }
    const connectSeconds = (Date.now() - connectStart) / 1000;
    // Let the connect storm's per-node reconciles drain before pinning.
    await waitFor('reconciles after connecting', async () => (await deps.queues.queue('reconcile').getJobCounts('wait', 'active', 'delayed')).wait === 0, 120_000, 200);

    const pinned = Date.now();
    await setPin(deps, actor, { projectId: project.id, reference: `${registry.host}/bench/macos:15.2`, mode: 'follow' });
    await Promise.race([everyone, new Promise((_, reject) => setTimeout(() => reject(new Error(`only ${received} of ${agentCount} agents got their job in 60 s`)), 60_000))]);
    const times = agents.map((a) => a.syncAt! - pinned).sort((a, b) => a - b);
    const rss = await peakRssMB(control.child.pid!);
    const planned = agents.filter((a) => a.peers !== undefined);
    const withPeers = agents.filter((a) => (a.peers ?? 0) > 0);
    const origins = agents.filter((a) => a.origin === true).length;
    const meanPeers = withPeers.reduce((sum, a) => sum + a.peers!, 0) / Math.max(1, withPeers.length);
    const result = {
      date: new Date().toISOString(),
      agents: agentCount,
      connectSeconds,
      pinToAllJobsSeconds: times.at(-1)! / 1000,
      pinToHalfJobsSeconds: times[Math.floor(times.length / 2)]! / 1000,
      pinToFirstJobSeconds: times[0]! / 1000,
      controlPeakRssMB: rss,
      dispatchesWithPeerPlan: planned.length,
      dispatchesWithPeers: withPeers.length,
      meanPeersPerDispatch: Number(meanPeers.toFixed(2)),
      origins,
    };
    const rows = [
      ['measure', 'value', 'target'],
      [`${agentCount} agents connected (hello + welcome)`, `${connectSeconds.toFixed(2)} s`, '-'],
      ['pin -> the first agent has its sync job', `${result.pinToFirstJobSeconds.toFixed(2)} s`, '-'],
      ['pin -> half the agents have their sync job', `${result.pinToHalfJobsSeconds.toFixed(2)} s`, '-'],
      ['pin -> every agent has its sync job', `${result.pinToAllJobsSeconds.toFixed(2)} s`, '<= 5 s'],
      ['dispatches with a peer plan', `${planned.length} of ${agentCount}`, 'all'],
      ['... with at least one peer', `${withPeers.length} (${meanPeers.toFixed(1)} peers each)`, '-'],
      ['... origins (fetch from the registry)', `${origins}`, '-'],
      ['control process peak RSS', `${rss.toFixed(0)} MB`, '<= 500 MB'],
    ];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    console.log(rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')).join('\n'));
    await mkdir(join(root, 'bench-results'), { recursive: true });
    await writeFile(join(root, 'bench-results', 'control.json'), `${JSON.stringify(result, null, 2)}\n`);
    // The control process's warnings (the tail of its output), to read when a figure looks wrong.
    await writeFile(join(root, 'bench-results', 'control.log'), control.output());
  } finally {
    for (const agent of agents) agent.close();
    await control?.stop();
    await services.close();
    await deleteKeys(redis.url, `${prefix}*`);
    await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await admin.end();
    await registry.stop();
    await redis.stop();
    await postgres.stop();
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
