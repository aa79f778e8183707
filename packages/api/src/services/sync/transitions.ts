// Applies the lifecycle's decisions to PostgreSQL: the only code that writes `SyncJob.state`.
// Each write is conditional on the state the decision was made from, so two events racing for
// one job (an agent's report and an admin's cancel) are decided one after the other, never
// mixed. After the write: the browser hears the new state, the dispatcher its outcome, and the
// transition's effects run (tell the agent to cancel, drop the queue entry, audit).
import { Prisma, type Db, type SyncJob } from '@cider/db';
import { syncJobKey } from '@cider/protocol';
import { recordAudit } from '../audit/record.ts';
import { systemActor, type ServiceDeps } from '../deps.ts';
import { sendToAgent } from '../nodes/notices.ts';
import { forgetProgress } from './progress-throttle.ts';
import { isOpen, transition, type OutcomeKind, type SyncEvent, type Transition } from './lifecycle.ts';
import { publishSyncOutcome, type SyncOutcome } from './outcomes.ts';

export type ApplyResult =
  | { applied: true; job: SyncJob; from: SyncJob['state'] }
  | { applied: false; job: SyncJob | null; reason: string };

/** Rounds of "the state changed under us, decide again" before giving up (each is another event that won the race). */
const maxRaces = 5;

const limit = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/**
 * Feeds one event to a job (a row, or its id). Refused transitions change nothing and say why;
 * callers treat a refusal as "already decided" (a report on a finished job, a second cancel).
 */
export async function applySyncEvent(deps: ServiceDeps, job: SyncJob | string, event: SyncEvent): Promise<ApplyResult> {
  let row = typeof job === 'string' ? await deps.db.syncJob.findUnique({ where: { id: job } }) : job;
  for (let race = 0; row; race++) {
    const decision = transition(row, event);
    if (!decision.ok) return { applied: false, job: row, reason: decision.reason };
    if (decision.to === row.state && Object.keys(decision.data).length === 0 && decision.effects.length === 0) {
      return { applied: true, job: row, from: row.state };
    }
    const written = await write(deps.db, row, decision, event);
    if (written) {
      await announce(deps, row, written, decision, event);
      return { applied: true, job: written, from: row.state };
    }
    if (race >= maxRaces) throw new Error(`Sync job ${row.id} kept changing while ${event.type} was applied to it`);
    row = await deps.db.syncJob.findUnique({ where: { id: row.id } });
  }
  return { applied: false, job: null, reason: 'no such sync job' };
}

/** The conditional write (with its audit record in the same transaction); null when the state moved meanwhile. */
async function write(db: Db, row: SyncJob, decision: Transition, event: SyncEvent): Promise<SyncJob | null> {
  const update = (client: Pick<Db, 'syncJob'>) => client.syncJob.updateManyAndReturn({ where: { id: row.id, state: row.state }, data: { state: decision.to, ...decision.data } });
  if (!decision.effects.includes('audit-cancel')) return (await update(db))[0] ?? null;
  return db.$transaction(async (tx) => {
    const [after] = await update(tx);
    if (after) await recordAudit(tx, systemActor, 'sync.cancel', { type: 'syncJob', id: row.id }, row, { state: after.state, reason: event.type === 'cancel' ? event.reason : undefined });
    return after ?? null;
  });
}

async function announce(deps: ServiceDeps, before: SyncJob, after: SyncJob, decision: Transition, event: SyncEvent): Promise<void> {
  if (!isOpen(after.state)) forgetProgress(after.id);
  if (after.state !== before.state) {
    await deps.events.publish({ type: 'sync.updated', nodeId: after.nodeId, digest: after.digest, syncJobId: after.id, state: after.state });
  }
  if (decision.outcome) await publishSyncOutcome(deps, outcomeOf(decision.outcome, after));
  if (decision.effects.includes('tell-agent-cancel')) {
    const reason = event.type === 'cancel' ? event.reason : 'cancelled';
    // Through whichever gateway holds the node's socket; an agent that is away hears it at its next hello.
    await sendToAgent(deps, after.nodeId, { type: 'cancel', jobId: after.id, reason: limit(reason, 500) }).catch(() => {});
  }
  if (decision.effects.includes('drop-queue-entry')) await dropQueueEntry(deps, after);
}

function outcomeOf(kind: OutcomeKind, job: SyncJob): SyncOutcome {
  const ids = { syncJobId: job.id, nodeId: job.nodeId };
  if (kind === 'retry' || kind === 'failed') return { kind, ...ids, error: limit(job.error ?? 'the sync failed', 2000) };
  return { kind, ...ids };
}

/**
 * A waiting or delayed queue entry is removed so it never runs; an active one belongs to a
 * dispatcher, which hears the outcome. With Redis down the entry stays, and when it runs it finds
 * the job no longer open.
 */
async function dropQueueEntry(deps: ServiceDeps, job: SyncJob): Promise<void> {
  try {
    const queued = await deps.queues.queue('sync').getJob(job.key);
    if (queued && !(await queued.isActive())) await queued.remove();
  } catch {
    // See above: harmless.
  }
}

/**
 * Makes the job one of its group's registry fetchers if fewer than `k` of the group's running jobs
 * for the digest are (fleet/peers.ts decides who is in the group, `group` being its SQL condition
 * on nodes `n`, and what k is). The flag only, never the state. Under an advisory lock per group
 * and digest, held for one short statement: the count is read after the lock is taken, so any
 * number of control processes claiming at once make exactly k.
 */
export async function claimOrigin(db: Db, claim: { syncJobId: string; digest: string; lock: string; group: Prisma.Sql; k: number }): Promise<boolean> {
  const { digest, group } = claim;
  // Claims wait for the advisory lock one after another, and a transaction waiting for it holds a
  // pooled connection: a thousand dispatches claiming at once took every connection and left other
  // queries to time out. In each process, two claims wait at most; the rest wait here, in memory.
  // Most jobs of a large rollout find the k origins already there: told so without the lock.
  // (Origins only end, so a count at k can only be too high for a moment; such a job may become
  // an origin at its next renewal.) A group found full is remembered for a moment, so the rest of
  // a dispatch storm does not queue behind the claims that are still deciding.
  const full = groupsFull(db);
  const key = `${claim.lock} ${claim.k}`;
  const isFull = () => (full.get(key) ?? 0) > Date.now();
  if (isFull()) return false;
  const release = await claimSlots(db).acquire();
  try {
    if (isFull()) return false;
    const [before] = await db.$queryRaw<{ origins: bigint }[]>`SELECT ${originsInFlight(digest, group)} AS origins`;
    const claimed = Number(before?.origins ?? 0) < claim.k && (await lockedClaim(db, claim));
    if (!claimed) {
      full.set(key, Date.now() + fullForMs);
      if (full.size > 1000) for (const [k, until] of full) if (until <= Date.now()) full.delete(k);
    }
    return claimed;
  } finally {
    release();
  }
}

/** How long a group found at its k origins is taken to be full without asking again. */
const fullForMs = 500;
const groupsFullByDb = new WeakMap<Db, Map<string, number>>();

function groupsFull(db: Db): Map<string, number> {
  let full = groupsFullByDb.get(db);
  if (!full) groupsFullByDb.set(db, (full = new Map()));
  return full;
}

async function lockedClaim(db: Db, claim: { syncJobId: string; digest: string; lock: string; group: Prisma.Sql; k: number }): Promise<boolean> {
  const { syncJobId, digest, group } = claim;
  const [, claimed] = await db.$transaction([
    db.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${claim.lock}))`,
    db.$executeRaw`
      UPDATE sync_jobs SET origin = TRUE
      WHERE id = ${syncJobId}::uuid AND state IN ('queued', 'dispatched', 'pulling') AND NOT origin
        AND ${originsInFlight(digest, group)} < ${claim.k}`,
  ]);
  return claimed > 0;
}

/** Claims of one process that may wait for the lock at once. */
const claimsAtOnce = 2;
const claimSlotsByDb = new WeakMap<Db, { acquire(): Promise<() => void> }>();

function claimSlots(db: Db): { acquire(): Promise<() => void> } {
  let slots = claimSlotsByDb.get(db);
  if (!slots) {
    let free = claimsAtOnce;
    const waiting: (() => void)[] = [];
    const release = () => {
      const next = waiting.shift();
      if (next) next();
      else free++;
    };
    slots = {
      acquire: () => {
        if (free > 0) {
          free--;
          return Promise.resolve(release);
        }
        return new Promise((resolve) => waiting.push(() => resolve(release)));
      },
    };
    claimSlotsByDb.set(db, slots);
  }
  return slots;
}

/**
 * The group's running registry fetchers of a digest. A node flagged for bad data of the image
 * feeds nobody: it does not count as an origin.
 */
function originsInFlight(digest: string, group: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`(SELECT count(*) FROM sync_jobs j JOIN nodes n ON n.id = j.node_id
    WHERE j.digest = ${digest} AND j.state IN ('dispatched', 'pulling') AND j.origin AND n.revoked_at IS NULL AND (${group})
      AND ${notFlaggedFor(digest)})`;
}

/** SQL on nodes `n`: the node carries no bad-peer-data condition for the image (nodes/conditions.ts). */
export function notFlaggedFor(digest: string): Prisma.Sql {
  return Prisma.sql`NOT EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(n.conditions) = 'array' THEN n.conditions ELSE '[]'::jsonb END) c
                    WHERE c->>'type' = 'bad-peer-data' AND c->>'digest' = ${digest})`;
}

/**
 * Creates queued jobs, one per (node, digest) that has none open. The browser hears of each when
 * the caller calls `announce`: after enqueueing, so a thousand events never delay the first dispatch.
 */
export async function openSyncJobs(
  deps: ServiceDeps,
  wanted: { nodeId: string; digest: string; reference: string }[],
): Promise<{ created: SyncJob[]; announce: () => Promise<void> }> {
  if (wanted.length === 0) return { created: [], announce: async () => {} };
  const created = await deps.db.syncJob.createManyAndReturn({
    data: wanted.map(({ nodeId, digest, reference }) => ({ key: syncJobKey(nodeId, digest), nodeId, digest, reference, state: 'queued' as const })),
  });
  const announce = () => deps.events.publishMany(created.map((row) => ({ type: 'sync.updated' as const, nodeId: row.nodeId, digest: row.digest, syncJobId: row.id, state: row.state })));
  return { created, announce };
}
