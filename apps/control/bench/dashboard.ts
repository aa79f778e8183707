// `npm run bench:dashboard`: the dashboard at fleet scale. Seeds a private database with 1,000
// nodes, 10,000 sync jobs and 20,000 audit events (fleet-seed.ts), starts the real control plane
// and web dashboard on free loopback ports (@cider/dev's startStack, without demo agents), keeps
// 1,000 simulated agents heartbeating every 15 s (sim-agent.ts: the real protocol, as the seeded
// nodes), and opens each main page in Chromium, one tab at a time (dashboard-pages.ts): time until
// usable, DOM nodes, and over an idle window the bytes downloaded and the web process's CPU.
// Prints a table against the targets (PASS/MISS; it never fails on a miss: it is a benchmark) and
// writes bench-results/dashboard.json.
//
// Options: --idle-seconds S (60), --nodes N (1000), --json (print the JSON summary instead of the table),
// --churn F (0): that fraction of the simulated agents moves its free disk by 2 to 3 % every heartbeat,
// so node.updated events flow (0.1 of 1,000: about 400 a minute) and the window shows how often pages
// refetch under visible change. Then KB/min has no target (what changes must be sent) and
// requests/min per page has one: at most one refetch per view every 3 s.
// The seeded in-flight pulls stay as they are during the run (stall timeout, reconcile and
// registry watch set to an hour), so "idle" means heartbeats and nothing else (with --churn, their
// visible changes).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServiceDeps } from '@cider/api';
import { findMigrationsDir, migrate } from '@cider/db/migrate';
import { startStack, type Stack } from '@cider/dev/stack';
import { deleteKeys, ensurePostgres, ensureRedis, freePort, startRegistry, waitFor, withDatabase, type RunningRegistry } from '@cider/services';
import pg from 'pg';
import { launchChromium, measurePage, signIn, type PageFigures } from './dashboard-pages.ts';
import { seedFleet } from './fleet-seed.ts';
import { connectSimAgent, type SimAgent } from './sim-agent.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const targets = { usableMs: 2_000, domNodes: 3_000, kbPerMinute: 200, webCpuPercent: 5 };
/** Under churn, a view refetches at most once every 3 s (apps/web/src/live/refresh-throttle.ts): in a
 * window of S seconds that is floor(S / 3) + 1 refetches, 21 a minute for 20 s or 60 s. */
function refetchCeilingPerMinute(windowSeconds: number): number {
  return ((Math.floor(windowSeconds / 3) + 1) * 60) / windowSeconds;
}

interface Options {
  idleSeconds: number;
  nodes: number;
  json: boolean;
  churn: number;
}

function parseOptions(argv: string[]): Options {
  const known = new Set(['--idle-seconds', '--nodes', '--json', '--churn']);
  for (const arg of argv) if (arg.startsWith('--') && !known.has(arg)) throw new Error(`unknown option ${arg} (known: ${[...known].join(', ')})`);
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    if (i < 0) return undefined;
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`${flag} needs a value`);
    return v;
  };
  const idleSeconds = Number(value('--idle-seconds') ?? 60);
  if (!Number.isInteger(idleSeconds) || idleSeconds < 5 || idleSeconds > 600) throw new Error('--idle-seconds: 5 to 600');
  const nodes = Number(value('--nodes') ?? 1000);
  if (!Number.isInteger(nodes) || nodes < 10 || nodes > 5000) throw new Error('--nodes: 10 to 5000');
  const churn = Number(value('--churn') ?? 0);
  if (!Number.isFinite(churn) || churn < 0 || churn > 1) throw new Error('--churn: a fraction from 0 to 1');
  return { idleSeconds, nodes, json: argv.includes('--json'), churn };
}

/** The web server process (apps/web/server.mjs) among this process's descendants. */
async function webServerPid(): Promise<number> {
  const parents = new Map<number, number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    if (stat) parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
  }
  for (const [pid] of parents) {
    let ancestor = parents.get(pid);
    while (ancestor !== undefined && ancestor !== process.pid && ancestor > 1) ancestor = parents.get(ancestor);
    if (ancestor !== process.pid) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes('apps/web/server.mjs')) return pid;
  }
  throw new Error('the web server process was not found among this benchmark\'s children');
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')).join('\n');
}

const mark = (ok: boolean) => (ok ? 'PASS' : 'MISS');

function report(pages: PageFigures[], churn: number, windowSeconds: number): string {
  const ceiling = refetchCeilingPerMinute(windowSeconds);
  return table([
    ['page', 'path', 'first load ms', 'usable ms', 'DOM nodes', churn ? 'KB/min churn' : 'KB/min idle', 'requests/min', 'web CPU %'],
    [
      '(target)',
      '',
      '-',
      `<= ${targets.usableMs}`,
      `<= ${targets.domNodes}`,
      churn ? 'n/a (visible changes)' : `<= ${targets.kbPerMinute}`,
      churn ? `<= ${ceiling.toFixed(1)} (one per 3 s)` : '-',
      `<= ${targets.webCpuPercent}`,
    ],
    ...pages.map((p) => [
      p.name,
      p.path.length > 40 ? `${p.path.slice(0, 37)}...` : p.path,
      p.firstLoadMs === undefined ? 'not usable in 30 s' : String(p.firstLoadMs),
      p.usableMs === undefined ? 'not usable in 30 s MISS' : `${p.usableMs} ${mark(p.usableMs <= targets.usableMs)}`,
      `${p.domNodes} ${mark(p.domNodes <= targets.domNodes)}`,
      churn ? `${p.kbPerMinute.toFixed(1)} n/a` : `${p.kbPerMinute.toFixed(1)} ${mark(p.kbPerMinute <= targets.kbPerMinute)}`,
      churn ? `${p.requestsPerMinute.toFixed(1)} ${mark(p.requestsPerMinute <= ceiling)}` : p.requestsPerMinute.toFixed(1),
      `${p.webCpuPercent.toFixed(1)} ${mark(p.webCpuPercent <= targets.webCpuPercent)}`,
    ]),
  ]);
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  for (const built of ['apps/control/dist/main.js', 'apps/web/.next/BUILD_ID']) {
    if (!existsSync(join(root, built))) throw new Error(`${built} is missing: run npm run bench:dashboard from the repository root (it builds first)`);
  }
  const log = (line: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
  // The seeded pulls stay in flight and nothing periodic runs in the window: idle means heartbeats only.
  Object.assign(process.env, {
    CIDER_HEARTBEAT_INTERVAL_S: '15',
    CIDER_SYNC_STALL_TIMEOUT_S: '3600',
    CIDER_RECONCILE_INTERVAL_S: '3600',
    CIDER_REGISTRY_WATCH_INTERVAL_S: '3600',
    CIDER_MAX_CONCURRENT_PULLS: String(options.nodes),
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
  });

  const dataDir = await mkdtemp(join(tmpdir(), 'cider-bench-dashboard-'));
  const postgres = await ensurePostgres({ url: process.env.TEST_DATABASE_URL, embeddedDir: join(root, '.cider', 'test-postgres') });
  const redis = await ensureRedis({ url: process.env.TEST_REDIS_URL });
  const database = `cider_bench_dashboard_${process.pid}`;
  const prefix = `benchdash${process.pid}`;
  const admin = new pg.Client({ connectionString: postgres.adminUrl });
  await admin.connect();
  const registries: RunningRegistry[] = [];
  const agents: SimAgent[] = [];
  const output: string[] = [];
  let stack: Stack | undefined;
  let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
  let cleaning: Promise<void> | undefined;
  // Once, whether the run ends or is interrupted: nothing of the run outlives it.
  const cleanup = () =>
    (cleaning ??= (async () => {
      await browser?.close().catch(() => undefined);
      for (const agent of agents) agent.close();
      await stack?.stop().catch(() => undefined);
      for (const registry of registries) await registry.stop().catch(() => undefined);
      await deleteKeys(redis.url, `${prefix}*`).catch(() => undefined);
      await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`).catch(() => undefined);
      await admin.end();
      await redis.stop();
      await postgres.stop();
      await rm(dataDir, { recursive: true, force: true });
    })());
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      console.error(`${signal}: cleaning up`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  try {
    await admin.query(`CREATE DATABASE "${database}"`);
    const databaseUrl = withDatabase(postgres.adminUrl, database);
    await migrate({ url: databaseUrl, migrationsDir: findMigrationsDir() });
    registries.push(await startRegistry(), await startRegistry());

    log(`seeding ${options.nodes} nodes, ${options.nodes * 10} sync jobs, ${options.nodes * 20} audit events`);
    const seedStart = Date.now();
    const services = createServiceDeps({ databaseUrl, redisUrl: redis.url, redisPrefix: prefix, secretKey: randomBytes(32).toString('base64') });
    const seeded = await seedFleet({ deps: services.deps, databaseUrl, registryHosts: registries.map((r) => r.host), nodes: options.nodes }).finally(() => services.close());
    const seedSeconds = (Date.now() - seedStart) / 1000;
    log(`seeded in ${seedSeconds.toFixed(1)} s: ${JSON.stringify(seeded.counts)}`);

    stack = await startStack({
      root,
      dataDir,
      databaseUrl,
      redisUrl: redis.url,
      redisPrefix: prefix,
      registryUrl: registries[0]!.url,
      webPort: await freePort(),
      controlPort: await freePort(),
      adminEmail: 'admin@cider.test',
      adminPassword: randomBytes(12).toString('base64url'),
      agents: [],
      log,
      onOutput: (name, line) => {
        output.push(`[${name}] ${line}`);
        if (output.length > 2_000) output.splice(0, 1_000);
      },
    });
    const { webUrl, controlUrl } = stack;

    const online = seeded.nodes.filter((n) => n.online);
    // Churning agents spread evenly over the fleet: agent i churns when i * churn crosses a whole number.
    const churns = (i: number) => Math.floor((i + 1) * options.churn) > Math.floor(i * options.churn);
    const churning = online.filter((_, i) => churns(i)).length;
    log(`connecting ${online.length} simulated agents (${seeded.nodes.length - online.length} stay offline, ${churning} change free disk every heartbeat)`);
    for (let i = 0; i < online.length; i += 100) {
      const batch = online.slice(i, i + 100);
      agents.push(
        ...(await Promise.all(
          batch.map((n, j) =>
            connectSimAgent({ controlUrl, nodeId: n.id, secret: n.secret, facts: n.facts, images: n.images, activeJobs: n.activeJobs, heartbeat: true, churn: churns(i + j) }),
          ),
        )),
      );
    }
    const check = new pg.Client({ connectionString: databaseUrl });
    await check.connect();
    await waitFor('every simulated node online', async () => Number((await check.query<{ n: string }>(`SELECT count(*) AS n FROM nodes WHERE state = 'online'`)).rows[0]!.n) >= online.length, 60_000, 500);
    await check.end();
    // The connect storm's reconciles and events settle before anything is measured.
    await new Promise((resolve) => setTimeout(resolve, 10_000));

    const webPid = await webServerPid();
    const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    browser = await launchChromium();
    // bypassCSP: the dashboard's CSP forbids eval, which Playwright's string probes need (dashboard-pages.ts).
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, bypassCSP: true });
    await signIn(context, webUrl, stack.adminEmail, stack.adminPassword);

    const node = online.find((n) => n.activeJobs.length > 0) ?? online[0]!;
    const pages: [string, string][] = [
      ['overview', '/'],
      ['nodes', '/nodes'],
      ['node', `/nodes/${node.id}`],
      ['jobs', '/jobs'],
      ['projects', '/projects'],
      ['project', `/projects/${seeded.fleetProjectId}`],
      ['registries', '/registries'],
      ['images', `/images/${seeded.registryId}`],
      ['tag', `/images/${seeded.registryId}/${seeded.repository}/-/tags/${seeded.rolloutTag}`],
      ['audit', '/audit'],
    ];
    const figures: PageFigures[] = [];
    const heartbeatsBefore = agents.reduce((sum, a) => sum + a.heartbeats, 0);
    const measuredFrom = Date.now();
    for (const [name, path] of pages) {
      log(`${name}: ${path} (${options.idleSeconds} s ${options.churn ? 'under churn' : 'idle'})`);
      figures.push(await measurePage({ context, webUrl, name, path, idleSeconds: options.idleSeconds, webPid, ticksPerSecond }));
    }
    const heartbeatsPerMinute = ((agents.reduce((sum, a) => sum + a.heartbeats, 0) - heartbeatsBefore) * 60_000) / (Date.now() - measuredFrom);
    const connected = agents.filter((a) => a.socket.readyState === a.socket.OPEN).length;

    const result = {
      date: new Date().toISOString(),
      nodes: seeded.counts.nodes,
      counts: seeded.counts,
      seedSeconds,
      agentsConnected: connected,
      heartbeatsPerMinute: Math.round(heartbeatsPerMinute),
      mode: options.churn ? 'churn' : 'idle',
      churn: options.churn,
      agentsChurning: churning,
      idleSeconds: options.idleSeconds,
      targets: options.churn ? { usableMs: targets.usableMs, domNodes: targets.domNodes, requestsPerMinute: refetchCeilingPerMinute(options.idleSeconds), webCpuPercent: targets.webCpuPercent } : targets,
      pages: figures,
    };
    await mkdir(join(root, 'bench-results'), { recursive: true });
    await writeFile(join(root, 'bench-results', 'dashboard.json'), `${JSON.stringify(result, null, 2)}\n`);
    await writeFile(join(root, 'bench-results', 'dashboard.log'), output.join('\n'));
    if (options.json) {
      console.log(JSON.stringify(result, null, 2));
      return;
    }
    const mode = options.churn ? `churn mode: ${churning} agents (${Math.round(options.churn * 1000) / 10} %) change free disk every heartbeat` : 'idle mode: heartbeats change nothing visible';
    console.log(`\n${seeded.counts.nodes} nodes (${connected} agents connected, ${Math.round(heartbeatsPerMinute)} heartbeats/min), ${seeded.counts.jobs} sync jobs (${seeded.counts.jobsInFlight} in flight), ${seeded.counts.auditEvents} audit events; seeded in ${seedSeconds.toFixed(1)} s; ${mode}; window ${options.idleSeconds} s per page\n`);
    console.log(report(figures, options.churn, options.idleSeconds));
    console.log('\n(bench-results/dashboard.json; the web and control output in bench-results/dashboard.log)');
  } finally {
    await cleanup();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`bench:dashboard failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
