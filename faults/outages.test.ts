// The fault suite: a rollout to four real agents, and in the middle of it Redis, then
// PostgreSQL, then the registry are killed (SIGKILL) and restarted a few seconds later. During
// each outage the dashboard must answer within 5 s (a page, or a 503 that names what is down),
// and no process of the system may exit. Afterwards every node holds every pinned image, no
// sync job is duplicated and no pin is lost. Then the control plane is restarted while
// PostgreSQL is down: it waits instead of crash-looping, and resumes when the database returns.
// Every wait is bounded; every failure names what did not happen.
import { join } from 'node:path';
import { HostCache, fsck } from '@cider/oci';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { openDashboard, type DashboardTab } from './browser.ts';
import { admin, FaultFleet, missingBuilds } from './fleet.ts';
import { linesBetween, spawnChild, until } from './processes.ts';
import { WebClient, type Answer } from './web-client.ts';

const MiB = 1024 * 1024;
const outageMs = 4_000;
const fleet = new FaultFleet({ agents: 4, reconcileIntervalS: 30, syncStallTimeoutS: 15, heartbeatIntervalS: 2 });
const web = () => new WebClient(fleet.webUrl);
let session: WebClient;
let tab: DashboardTab | undefined;
let keepLogs = false;
const pins: { reference: string; digest: string }[] = [];
const repository = 'faults/macos';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const reference = (tag: string) => `${fleet.registryHost}/${repository}:${tag}`;

function expectAllAlive(during: string): void {
  for (const child of fleet.children()) expect(child.alive(), `${child.name} during ${during}: ${child.exitDescription()}`).toBe(true);
}

function describeAnswer(answer: Answer): string {
  return `${answer.status} ${answer.code ?? ''} ${answer.message ?? ''}`.trim();
}

/** Sync jobs of the rollout not yet finished, as "node digest state" lines. */
async function unfinishedJobs(): Promise<string[]> {
  const jobs = await fleet.deps.db.syncJob.findMany({ where: { state: { in: ['queued', 'dispatched', 'pulling'] } }, include: { node: true } });
  return jobs.map((j) => `${j.node.name} ${j.digest.slice(0, 19)} ${j.state}`);
}

async function expectMidRollout(before: string): Promise<void> {
  const open = await unfinishedJobs();
  expect(open.length, `the rollout should still be under way before ${before}`).toBeGreaterThan(0);
}

/**
 * Kills a service, runs the checks for while it is down, and restarts it at least `outageMs`
 * after the kill, whatever the checks did (a failed check must not leave the service down for the
 * phases after it).
 */
async function duringOutage(kill: () => Promise<void>, restart: () => Promise<void>, checks: (killedAt: number) => Promise<void>): Promise<number> {
  const killedAt = Date.now();
  await kill();
  try {
    await checks(killedAt);
  } finally {
    // Not a wait for something to happen: the outage's length is what the phase tests.
    await sleep(Math.max(0, killedAt + outageMs - Date.now()));
    await restart();
  }
  return killedAt;
}

/** The live-updates badge in the dashboard's header. */
async function badge(): Promise<string> {
  return ((await tab!.page.locator('.live').textContent({ timeout: 5_000 })) ?? '').trim();
}

/** Sets a pin through the dashboard's API, as the pin form does. */
function setPin(tag: string) {
  return session.mutation<{ digest: string }>('pins.set', { projectId: fleet.projectId, reference: reference(tag), mode: 'follow' });
}

describe('outages mid-rollout (real PostgreSQL, Redis, registry, control plane, 4 agents, web dashboard)', () => {
  beforeAll(async () => {
    const missing = missingBuilds();
    if (missing.length > 0) throw new Error(`The fault suite runs the built apps; build them first (npm run test:faults does): missing ${missing.join(', ')}`);
    await fleet.start();
    session = web();
    const signedIn = await session.signIn(admin.email, admin.password, 30_000);
    expect(signedIn.status, describeAnswer(signedIn)).toBe(200);
  });
  afterAll(async () => {
    await tab?.close();
    await fleet.stop(keepLogs);
    if (keepLogs) console.error(`fault suite: process logs in ${fleet.logDir}, state in ${fleet.work}`);
  });

  it('starts a rollout of an 8 MiB image to 4 agents, pulled slowly', async () => {
    onTestFailed(() => void (keepLogs = true));
    const first = await fleet.push(repository, '15.2', 8 * MiB);
    const second = await fleet.push(repository, '15.3', 1 * MiB);
    pins.push({ reference: reference('15.2'), digest: first });
    // 160 KiB/s per blob request: each agent needs about 50 s, so all three outages land mid-rollout.
    fleet.proxy.setRule((req) => (req.method === 'GET' && req.path.includes('/blobs/') ? { kind: 'throttle', bytesPerSecond: 160 * 1024 } : undefined));
    const pinned = await setPin('15.2');
    expect(pinned.status, describeAnswer(pinned)).toBe(200);
    expect(pinned.data?.digest).toBe(first);
    await until('pulls to be under way', async () => (await fleet.deps.db.syncJob.count({ where: { digest: first, state: 'pulling' } })) > 0, 30_000);
    // Warm the dashboard's routes, so what follows measures outages, not first compiles.
    expect((await session.page('/', 30_000)).status).toBe(200);
    expect((await session.query('nodes.page', {}, 30_000)).status).toBe(200);
    pins.push({ reference: reference('15.3'), digest: second });
    // A person watching the overview in a browser through all that follows.
    tab = await openDashboard(fleet.webUrl, session.cookie!);
    await expect.poll(badge, { timeout: 30_000 }).toBe('Live');
  });

  it('Redis killed: pages and queries answer, a pin set meanwhile is kept, sign-in refuses (503), live streams end; all resumes on restart', async () => {
    onTestFailed(() => void (keepLogs = true));
    await expectMidRollout('the Redis kill');
    const stream = await session.events();
    expect(stream.status).toBe(200);
    expect((await stream.until(5_000, (e) => e.event === 'connected')).event).toBe('connected');

    const killedAt = await duringOutage(fleet.killRedis, fleet.restartRedis, async () => {
      // The open stream is told (an error event tRPC's client retries), it does not just go quiet.
      const told = await stream.until(5_000, (e) => e.event === 'serialized-error');
      stream.close();
      expect(told.event).toMatch(/serialized-error|end/);
      // And the browser says so.
      await expect.poll(badge, { timeout: 10_000, interval: 100 }).toBe('Reconnecting…');
      await tab!.page.screenshot({ path: join(fleet.logDir, 'redis-outage.png') });

      expect((await session.page('/')).status).toBe(200);
      const nodes = await session.query<{ total: number }>('nodes.page', {});
      expect(nodes.status, describeAnswer(nodes)).toBe(200);
      expect(nodes.data?.total).toBe(4);
      // The pin commits in PostgreSQL; its reconcile job cannot be queued and is left to reconcile.
      const pinned = await setPin('15.3');
      expect(pinned.status, describeAnswer(pinned)).toBe(200);
      expect(pinned.data?.digest).toBe(pins[1]!.digest);
      // Sign-in counts the attempt in Redis first: refused while it is down, never let through.
      const signIn = await web().signIn(admin.email, admin.password);
      expect(signIn.status, describeAnswer(signIn)).toBe(503);
      expect(signIn.message).toMatch(/Redis .*is unreachable/);
      const refused = await session.events();
      const refusal = await refused.until(5_000, (e) => e.event === 'serialized-error');
      refused.close();
      expect(refusal.event).toMatch(/serialized-error|end/);
      expectAllAlive('the Redis outage');
    });

    // Live updates come back: a new stream connects and carries the rollout's events again.
    await until('the live event stream to carry events again', async () => {
      const again = await session.events();
      try {
        const event = await again.until(3_000, (e) => e.event === 'message' || e.event === 'serialized-error');
        return event.event === 'message';
      } finally {
        again.close();
      }
    }, 30_000, 500);
    await until('sign-in to work again', async () => (await web().signIn(admin.email, admin.password)).status === 200, 15_000, 500);
    expect(await fleet.deps.db.pin.count()).toBe(2);
    // The outage was logged as it began and when it ended, not once per retry.
    const logged = linesBetween(fleet.control, killedAt, Date.now(), /Redis/);
    expect(logged.length, logged.map((l) => l.text).join('\n')).toBeGreaterThan(0);
    expect(logged.length, logged.map((l) => l.text).join('\n')).toBeLessThanOrEqual(12);
    await expect.poll(badge, { timeout: 30_000, interval: 250 }).toBe('Live');
    // An outage is not a server bug: nothing was logged as an internal error.
    expect(linesBetween(fleet.web, killedAt, Date.now(), /tRPC .* failed/).map((l) => l.text)).toEqual([]);
    expectAllAlive('the recovery from the Redis outage');
  });

  it('PostgreSQL killed: pages say "service unavailable", the API answers 503 naming the database, nothing changes; all resumes on restart', async () => {
    onTestFailed(() => void (keepLogs = true));
    await expectMidRollout('the PostgreSQL kill');
    const pinsBefore = await fleet.deps.db.pin.findMany({ orderBy: { reference: 'asc' } });
    const killedAt = await duringOutage(fleet.killPostgres, fleet.restartPostgres, async () => {
      // The page fails on the server (500; Next lets server components set no other status) and
      // carries the outage to the browser's error boundary, which says what is down.
      const page = await session.page('/');
      expect(page.status).toBe(500);
      expect(page.html).toContain('cider-unavailable:database');
      await tab!.page.reload({ waitUntil: 'domcontentloaded', timeout: 5_000 });
      expect(await tab!.shows(/Service unavailable[\s\S]*The database is unreachable; the dashboard will work again when it is back\./, 5_000), await tab!.text().catch(String)).toBe(true);
      await tab!.page.screenshot({ path: join(fleet.logDir, 'postgres-outage.png') });

      const nodes = await session.query('nodes.page', {});
      expect(nodes.status, describeAnswer(nodes)).toBe(503);
      expect(nodes.message).toBe('The database is unreachable; the dashboard will work again when it is back.');
      expect(nodes.headers.get('retry-after')).toBe('5');
      const pinned = await setPin('15.2');
      expect(pinned.status, describeAnswer(pinned)).toBe(503);
      const signIn = await web().signIn(admin.email, admin.password);
      expect(signIn.status, describeAnswer(signIn)).toBe(503);
      // A new live stream is answered at once with an error the browser retries, naming the database.
      const stream = await session.events();
      const refusal = await stream.until(5_000, (e) => e.event === 'serialized-error');
      stream.close();
      expect(refusal.data).toContain('The database is unreachable');
      expectAllAlive('the PostgreSQL outage');
    });
    await until('the dashboard to answer from the database again', async () => (await session.query('nodes.page', {})).status === 200, 30_000, 500);
    expect((await session.page('/')).status).toBe(200);
    // The open page came back by itself (it retries every 5 s), without anyone reloading it.
    expect(await tab!.shows(/Overview/, 30_000), await tab!.text().catch(String)).toBe(true);
    expect(await tab!.text()).not.toContain('Service unavailable');
    // The refused pin changed nothing.
    expect(await fleet.deps.db.pin.findMany({ orderBy: { reference: 'asc' } })).toEqual(pinsBefore);
    // The control plane reported the outage a few times, not once per agent message it could not record.
    const logged = linesBetween(fleet.control, killedAt, Date.now(), /PostgreSQL|agent message failed/);
    expect(logged.filter((l) => /agent message failed/.test(l.text)).map((l) => l.text)).toEqual([]);
    expect(logged.length, logged.map((l) => l.text).join('\n')).toBeLessThanOrEqual(12);
    // Each agent was told once, not once per heartbeat and progress report it sent meanwhile.
    for (const agent of fleet.agents.values()) {
      const told = linesBetween(agent, killedAt, Date.now(), /could not record|cannot reach its database/);
      expect(told.length, `${agent.name}:\n${told.map((l) => l.text).join('\n')}`).toBeLessThanOrEqual(2);
    }
    expectAllAlive('the recovery from the PostgreSQL outage');
  });

  it('registry killed: pulls wait and resume, the dashboard answers within 5 s (502 naming the registry for registry calls)', async () => {
    onTestFailed(() => void (keepLogs = true));
    await expectMidRollout('the registry kill');
    const registryId = (await fleet.deps.db.registry.findFirstOrThrow()).id;
    // Once the registry is back, pulls go at full speed: the rest of the suite need not wait for the throttle.
    const restart = async () => {
      fleet.proxy.setRule(undefined);
      await fleet.restartRegistry();
    };
    await duringOutage(fleet.killRegistry, restart, async () => {
      const tags = await session.query('images.tags', { registryId, repository });
      expect(tags.status, describeAnswer(tags)).toBe(502);
      expect(tags.message).toContain(fleet.registryHost);
      const pinned = await setPin('15.2');
      expect(pinned.status, describeAnswer(pinned)).toBe(502);
      expect((await session.page('/')).status).toBe(200);
      expect((await session.query('nodes.page', {})).status).toBe(200);
      expectAllAlive('the registry outage');
    });
    await until('the registry to answer through the dashboard', async () => (await session.query('images.tags', { registryId, repository })).status === 200, 30_000, 500);
    expectAllAlive('the recovery from the registry outage');
  });

  it('afterwards every node holds every pin, with one done sync job per node and image and no pin lost', async () => {
    onTestFailed(() => void (keepLogs = true));
    const nodes = await fleet.deps.db.node.findMany({ orderBy: { name: 'asc' } });
    expect(nodes.map((n) => n.name)).toEqual(['mac-1', 'mac-2', 'mac-3', 'mac-4']);
    const missing = async () => {
      const held = await fleet.deps.db.nodeImage.findMany({ select: { nodeId: true, digest: true } });
      const lacking = nodes.flatMap((n) => pins.filter((p) => !held.some((h) => h.nodeId === n.id && h.digest === p.digest)).map((p) => `${n.name} lacks ${p.reference}`));
      return [...lacking, ...(await unfinishedJobs()).map((j) => `open job: ${j}`)];
    };
    let last: string[] = [];
    try {
      await until('every node to hold both images with no job open', async () => (last = await missing()).length === 0, 120_000, 1_000);
    } catch (error) {
      throw new Error(`${(error as Error).message}\nnot converged:\n${last.join('\n')}`);
    }

    // No pin lost, none changed.
    const saved = await fleet.deps.db.pin.findMany({ orderBy: { reference: 'asc' } });
    expect(saved.map((p) => ({ reference: p.reference, digest: p.digest }))).toEqual(pins);
    // Nothing duplicated: exactly one done job per (node, image), none open, none failed for good.
    const jobs = await fleet.deps.db.syncJob.findMany({ include: { node: true } });
    const byPair = new Map<string, string[]>();
    for (const job of jobs) byPair.set(`${job.node.name} ${job.digest}`, [...(byPair.get(`${job.node.name} ${job.digest}`) ?? []), job.state]);
    const expected = new Map(nodes.flatMap((n) => pins.map((p) => [`${n.name} ${p.digest}`, ['done']] as const)));
    expect(Object.fromEntries(byPair)).toEqual(Object.fromEntries(expected));
    // And every cache really holds both images, intact.
    for (const node of nodes) {
      const cache = await HostCache.open(join(fleet.work, 'agents', node.name));
      expect((await cache.listImages()).map((i) => i.digest).sort(), node.name).toEqual(expect.arrayContaining(pins.map((p) => p.digest)));
      expect((await fsck(cache)).ok, `${node.name}'s cache`).toBe(true);
    }
    expectAllAlive('the end of the rollout');
  });

  it('a control plane started while PostgreSQL is down waits for it (logging, not exiting) and serves agents once it is back', async () => {
    onTestFailed(() => void (keepLogs = true));
    await fleet.killPostgres();
    await fleet.stopControl();
    const startedAt = Date.now();
    await fleet.startControlProcess();
    await until('the new control plane to say it waits for PostgreSQL', async () => linesBetween(fleet.control, startedAt, Date.now(), /waiting for PostgreSQL/).length > 0, 15_000);
    // A window of time is the behaviour under test: over these 3 s it keeps waiting, and says so
    // a few times at most rather than once per attempt.
    await sleep(3_000);
    expect(fleet.control.alive(), fleet.control.exitDescription()).toBe(true);
    expect(linesBetween(fleet.control, startedAt, Date.now(), /PostgreSQL/).length).toBeLessThanOrEqual(3);
    await fleet.restartPostgres();
    await fleet.waitForControl();
    await until('every agent to be back online', async () => (await fleet.deps.db.node.count({ where: { state: 'online' } })) === 4, 60_000, 1_000);
    expectAllAlive('the control plane restart');
  });

  it('a control plane pointed at a database without migrations fails at once, saying so', async () => {
    onTestFailed(() => void (keepLogs = true));
    const empty = await fleet.emptyDatabase('cider_unmigrated');
    const child = spawnChild('control-unmigrated', process.execPath, [fleet.controlMainPath, 'run'], {
      cwd: fleet.work,
      logDir: fleet.logDir,
      env: fleet.processEnv({ DATABASE_URL: empty, CIDER_CONTROL_PORT: '0' }),
    });
    await until('the control plane to exit', async () => !child.alive(), 30_000);
    expect(child.process.child.exitCode).toBe(1);
    expect(child.process.output()).toMatch(/The database lacks migrations \(.+\)\. Run `cider-control migrate` first, or start with --migrate\./);
  });
});
