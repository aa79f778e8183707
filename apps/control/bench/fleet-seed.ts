// A fleet as the dashboard meets it after months of use, seeded in seconds: macOS images in a
// real registry, registries, projects and pins made through the services (so they are audited
// and resolved like an admin's), then nodes, their caches, their sync job history and the audit
// log in bulk SQL. One rollout is in flight over most of the fleet: its missing nodes each hold a
// pulling job that their simulated agent reports as running. bench/dashboard.ts measures the
// dashboard against it; fleet-seed.test.ts checks the counts at a small scale.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createProject, createRegistry, hashToken, setPin, type ServiceDeps } from '@cider/api/services';
import { pushIpsw, RegistryClient } from '@cider/oci';
import { makeSyntheticIpsw } from '@cider/oci/testing';
import { syncJobKey, type HeldImage, type HostFacts } from '@cider/protocol';
import pg from 'pg';

const GB = 1e9;
const dayMs = 86_400_000;
const actor = { label: 'bench:dashboard' };
const sites = ['ams', 'fra', 'sfo', 'nyc'] as const;
/** Pools and their share of the fleet. */
const pools = [
  ['ios-ci', 0.4],
  ['ui-tests', 0.3],
  ['perf', 0.2],
  ['spare', 0.1],
] as const;
const versions = [
  ['14.7', '23H124'],
  ['15.0', '24A335'],
  ['15.1', '24B83'],
  ['15.2', '24C101'],
  ['15.3', '24D60'],
] as const;
/** Where the images go unless told otherwise. */
export const seedRepository = 'fleet/macos';
/** The tag every node is being moved to (the rollout in flight, and the tag page measured). */
export const rolloutTag = '15.3';

export interface FleetSeedOptions {
  deps: ServiceDeps;
  databaseUrl: string;
  /** Plain-HTTP registries: the images go to the first; each is connected. */
  registryHosts: string[];
  /** The repository the macOS images are pushed to (default fleet/macos). */
  repository?: string;
  nodes: number;
  /** Sync job rows (default 10 per node). */
  jobs?: number;
  /** Audit events in all (default 20 per node). */
  auditEvents?: number;
  /** Nodes whose agent never connects (default 2 %). */
  offlineShare?: number;
  /** Share of the fleet still fetching the rollout's image (default 35 %). */
  rolloutPendingShare?: number;
}

export interface SeededNode {
  id: string;
  name: string;
  secret: string;
  online: boolean;
  facts: HostFacts;
  images: HeldImage[];
  /** Its pulling sync jobs: the agent says it runs them, so they stay in flight. */
  activeJobs: string[];
}

export interface FleetSeed {
  nodes: SeededNode[];
  registryId: string;
  repository: string;
  rolloutTag: string;
  /** The project every node serves (the largest rollout). */
  fleetProjectId: string;
  counts: { nodes: number; nodeImages: number; jobs: number; jobsInFlight: number; auditEvents: number; projects: number; pins: number; registries: number };
}

/** A deterministic stream of numbers in [0, 1): the same fleet every run. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function hex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

/** Rows to `INSERT ... SELECT * FROM unnest(...)`: one array per column, each cast in SQL. */
async function insertRows(pool: pg.Pool, table: string, columns: [name: string, cast: string][], rows: unknown[][]): Promise<void> {
  for (let start = 0; start < rows.length; start += 5_000) {
    const batch = rows.slice(start, start + 5_000);
    const arrays = columns.map((_, i) => batch.map((row) => row[i] ?? null));
    const selects = columns.map(([, cast], i) => `($${i + 1}::text[])[g]${cast}`);
    await pool.query(`INSERT INTO ${table} (${columns.map(([name]) => name).join(', ')}) SELECT ${selects.join(', ')} FROM generate_series(1, ${batch.length}) AS g`, arrays);
  }
}

async function pushImages(registryHost: string, repository: string): Promise<Map<string, { digest: string; reference: string }>> {
  const dir = await mkdtemp(join(tmpdir(), 'cider-fleet-seed-'));
  const client = new RegistryClient();
  const images = new Map<string, { digest: string; reference: string }>();
  try {
    for (const [version, build] of versions) {
      const path = await makeSyntheticIpsw({ dir, version, build, payloadBytes: 64 * 1024 });
      const pushed = await pushIpsw({ client, path, repository: `${registryHost}/${repository}`, description: `macOS ${version} (${build}) for the dashboard benchmark` });
      images.set(version, { digest: pushed.digest, reference: `${registryHost}/${repository}:${version}` });
      await rm(path, { force: true });
    }
  } finally {
    await client.close();
    await rm(dir, { recursive: true, force: true });
  }
  return images;
}

export async function seedFleet(options: FleetSeedOptions): Promise<FleetSeed> {
  const { deps } = options;
  const nodeCount = options.nodes;
  const jobCount = options.jobs ?? nodeCount * 10;
  const auditCount = options.auditEvents ?? nodeCount * 20;
  const next = random(14);
  const now = Date.now();
  const repository = options.repository ?? seedRepository;
  const images = await pushImages(options.registryHosts[0]!, repository);
  const image = (version: string) => images.get(version)!;

  // Through the services: registries, projects and pins as an admin makes them.
  const registries = [];
  for (const [i, host] of options.registryHosts.entries()) registries.push(await createRegistry(deps, actor, { name: i === 0 ? 'main' : `site-${i}`, host, plainHttp: true, authKind: 'none' }));
  const team = await deps.db.team.upsert({ where: { name: 'Platform' }, create: { name: 'Platform' }, update: {} });
  const projects: { name: string; selector: Record<string, string>; version: string; mode: 'follow' | 'frozen' }[] = [
    { name: 'ios-ci', selector: { pool: 'ios-ci' }, version: '15.2', mode: 'follow' },
    { name: 'ui-tests', selector: { pool: 'ui-tests' }, version: '15.1', mode: 'frozen' },
    { name: 'perf-ams', selector: { pool: 'perf', site: 'ams' }, version: '15.0', mode: 'follow' },
    { name: 'fleet-base', selector: {}, version: rolloutTag, mode: 'follow' },
  ];
  const projectIds = new Map<string, string>();
  for (const p of projects) {
    const project = await createProject(deps, actor, { name: p.name, teamId: team.id, nodeSelector: p.selector });
    await setPin(deps, actor, { projectId: project.id, reference: image(p.version).reference, mode: p.mode });
    projectIds.set(p.name, project.id);
  }

  // Nodes: each holds what its projects pin (bar the rollout's share still fetching), often an older image too.
  const nodes: SeededNode[] = [];
  const nodeRows: unknown[][] = [];
  const imageRows: unknown[][] = [];
  const jobRows: unknown[][] = [];
  const offlineShare = options.offlineShare ?? 0.02;
  const pendingShare = options.rolloutPendingShare ?? 0.35;
  const sizeOf = new Map<string, number>(versions.map(([v], i) => [v, Math.round((13.5 + i * 0.6) * GB)]));
  const job = (nodeId: string, version: string, state: string, at: number, extra: { bytesDone?: number; error?: string; finished?: boolean } = {}) => {
    const { digest, reference } = image(version);
    const size = sizeOf.get(version)!;
    const id = randomUUID();
    const finished = extra.finished ?? ['done', 'failed', 'cancelled'].includes(state);
    const bytesDone = extra.bytesDone ?? (state === 'done' ? size : Math.round(size * next()));
    jobRows.push([id, syncJobKey(nodeId, digest), nodeId, digest, reference, state, String(bytesDone), String(size), extra.error, String(state === 'failed' ? 3 : 1), new Date(at - 60_000).toISOString(), new Date(at - 50_000).toISOString(), finished ? new Date(at).toISOString() : undefined, new Date(at).toISOString()]);
    return id;
  };
  for (let i = 0; i < nodeCount; i++) {
    const site = sites[i % sites.length]!;
    const roll = next();
    let acc = 0;
    const pool = pools.find(([, share]) => (acc += share) > roll)?.[0] ?? 'spare';
    const name = `mac-${site}-${String(i + 1).padStart(4, '0')}`;
    const id = randomUUID();
    const secret = hex(16);
    const online = next() >= offlineShare;
    const pinned = new Set<string>([...projects.filter((p) => Object.entries(p.selector).every(([k, v]) => ({ pool, site })[k as 'pool' | 'site'] === v)).map((p) => p.version)]);
    const held: string[] = [];
    const activeJobs: string[] = [];
    for (const version of pinned) {
      const fetching = version === rolloutTag ? next() < pendingShare : next() < 0.03;
      if (!fetching) held.push(version);
      else if (online) activeJobs.push(job(id, version, 'pulling', now - next() * 600_000, { finished: false }));
    }
    if (next() < 0.3) held.push('14.7');
    const verifiedAt = (version: string) => now - (version === rolloutTag ? next() * dayMs : (5 + next() * 40) * dayMs);
    const heldImages: HeldImage[] = held.map((version) => ({ digest: image(version).digest, reference: image(version).reference, tags: [version], sizeBytes: sizeOf.get(version)!, verifiedAt: new Date(verifiedAt(version)).toISOString() }));
    for (const h of heldImages) {
      imageRows.push([id, h.digest, h.reference, String(h.sizeBytes), h.verifiedAt, new Date(now - next() * 3 * dayMs).toISOString()]);
      job(id, h.tags[0]!, 'done', Date.parse(h.verifiedAt));
    }
    const cacheBytes = heldImages.reduce((sum, h) => sum + h.sizeBytes, 0);
    const totalBytes = (i % 3 === 0 ? 2048 : 1024) * GB;
    const facts: HostFacts = {
      hostname: name,
      os: { platform: 'macOS', release: '24.2.0', version: '15.2' },
      architecture: 'arm64',
      cpu: { model: i % 2 ? 'Apple M2 Pro' : 'Apple M2', cores: i % 2 ? 12 : 8 },
      memoryBytes: (i % 2 ? 32 : 16) * 1024 ** 3,
      disk: { totalBytes, freeBytes: Math.max(0, totalBytes - cacheBytes - Math.round((90 + 200 * next()) * GB)) },
      cache: { path: '/Users/Shared/Cider', bytes: cacheBytes },
      conditions: [],
      peer: { port: 7941, addresses: [`10.${sites.indexOf(site) + 1}.${(i >> 8) & 255}.${(i & 255) + 1}`], uploadedBytes: Math.round(next() * 40 * GB), uploadsInFlight: 0 },
    };
    const lastSeen = online ? now : now - (1 + next() * 48) * 3_600_000;
    nodeRows.push([id, name, JSON.stringify({ pool, site, rack: `r${(i % 25) + 1}` }), hashToken(secret), 'offline', JSON.stringify(facts), 'sim', new Date(lastSeen).toISOString(), new Date(now - (60 + next() * 300) * dayMs).toISOString()]);
    nodes.push({ id, name, secret, online, facts, images: heldImages, activeJobs });
  }

  // The rest of the history: older pulls that finished, failed or were cancelled over 60 days.
  const older = ['14.7', '15.0', '15.1', '15.2'];
  const jobsInFlight = nodes.reduce((sum, n) => sum + n.activeJobs.length, 0);
  // At a small scale the held images' pulls alone may be too many: drop finished ones, never one in flight.
  for (let i = jobRows.length - 1; i >= 0 && jobRows.length > jobCount; i--) if (jobRows[i]![5] === 'done') jobRows.splice(i, 1);
  while (jobRows.length < jobCount) {
    const node = nodes[Math.floor(next() * nodes.length)]!;
    const roll = next();
    const state = roll < 0.6 ? 'done' : roll < 0.85 ? 'failed' : 'cancelled';
    const error = state === 'failed' ? (next() < 0.5 ? 'registry answered 503 Service Unavailable while fetching a layer' : 'not enough free space: needs 15.6 GB, 9.2 GB free') : state === 'cancelled' ? 'cancelled by admin' : undefined;
    job(node.id, older[Math.floor(next() * older.length)]!, state, now - (2 + next() * 58) * dayMs, { error });
  }

  const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 2 });
  try {
    await insertRows(pool, 'nodes', [['id', '::uuid'], ['name', ''], ['labels', '::jsonb'], ['secret_hash', ''], ['state', '::"NodeState"'], ['facts', '::jsonb'], ['agent_version', ''], ['last_seen_at', '::timestamptz'], ['enrolled_at', '::timestamptz']], nodeRows);
    await insertRows(pool, 'node_images', [['node_id', '::uuid'], ['digest', ''], ['reference', ''], ['size', '::bigint'], ['verified_at', '::timestamptz'], ['last_used_at', '::timestamptz']], imageRows);
    await insertRows(
      pool,
      'sync_jobs',
      [['id', '::uuid'], ['key', ''], ['node_id', '::uuid'], ['digest', ''], ['reference', ''], ['state', '::"SyncJobState"'], ['bytes_done', '::bigint'], ['bytes_total', '::bigint'], ['error', ''], ['attempts', '::int'], ['created_at', '::timestamptz'], ['started_at', '::timestamptz'], ['finished_at', '::timestamptz'], ['updated_at', '::timestamptz']],
      jobRows,
    );
    await insertRows(pool, 'audit_events', [['at', '::timestamptz'], ['actor', ''], ['action', ''], ['target_type', ''], ['target_id', ''], ['before', '::jsonb'], ['after', '::jsonb']], await auditRows(pool, nodes, jobRows, auditCount, next, now));
    const count = async (table: string) => Number((await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n);
    return {
      nodes,
      registryId: registries[0]!.id,
      repository,
      rolloutTag,
      fleetProjectId: projectIds.get('fleet-base')!,
      counts: {
        nodes: await count('nodes'),
        nodeImages: await count('node_images'),
        jobs: await count('sync_jobs'),
        jobsInFlight,
        auditEvents: await count('audit_events'),
        projects: await count('projects'),
        pins: await count('pins'),
        registries: await count('registries'),
      },
    };
  } finally {
    await pool.end();
  }
}

/** Audit events to bring the log to `total`: enrollments, evictions, retries and cancels, spread over 90 days. */
async function auditRows(pool: pg.Pool, nodes: SeededNode[], jobRows: unknown[][], total: number, next: () => number, now: number): Promise<unknown[][]> {
  const existing = Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM audit_events')).rows[0]!.n);
  const admins = ['admin@cider.test', 'ops@cider.test', 'release@cider.test'];
  const rows: unknown[][] = [];
  for (let i = existing; i < total; i++) {
    const node = nodes[Math.floor(next() * nodes.length)]!;
    const at = new Date(now - next() * 90 * dayMs).toISOString();
    const roll = next();
    const image = node.images[0];
    if (roll < 0.25) rows.push([at, `node:${node.name}`, 'node.enroll', 'node', node.id, null, JSON.stringify({ id: node.id, name: node.name, labels: {}, token: 'racks' })]);
    else if (roll < 0.55) rows.push([at, `node:${node.name}`, 'node.evict', 'node', node.id, JSON.stringify({ digest: image?.digest ?? null, reference: image?.reference ?? null }), JSON.stringify({ reason: 'quota', freedBytes: image?.sizeBytes ?? 0 })]);
    else if (roll < 0.8) rows.push([at, admins[Math.floor(next() * admins.length)]!, 'sync.retry', 'syncJob', jobRows[Math.floor(next() * jobRows.length)]![0], JSON.stringify({ state: 'failed' }), JSON.stringify({ newSyncJobId: null, message: 'Queued again.' })]);
    else if (roll < 0.95) rows.push([at, admins[Math.floor(next() * admins.length)]!, 'sync.cancel', 'syncJob', jobRows[Math.floor(next() * jobRows.length)]![0], JSON.stringify({ state: 'pulling' }), JSON.stringify({ state: 'cancelled' })]);
    else rows.push([at, admins[Math.floor(next() * admins.length)]!, 'node.rotate-secret', 'node', node.id, null, null]);
  }
  return rows;
}
