// Sync dispatch: the glue between BullMQ and the sync job lifecycle. It sends a queued job to its
// node's agent, waits for the job's outcome (published by the lifecycle on its own channel), and
// turns it into what BullMQ understands: complete, retry with backoff, fail for good, or wait
// (delayed, no attempt spent) for a node that is away or at its pull limit. Every decision about
// the job itself is the lifecycle's (@cider/api/services: applySyncEvent).
import { setMaxListeners } from 'node:events';
import {
  applySyncEvent,
  isOpen,
  nodeStatus,
  peerPlanFor,
  registryAccess,
  siteMirrorAccess,
  type JobPayload,
  type ServiceDeps,
  type SyncEvent,
  type SyncOutcome,
  type SyncOutcomeRouter,
} from '@cider/api/services';
import type { Registry, SyncJob } from '@cider/db';
import { parseReference } from '@cider/oci';
import type { ControlMessage } from '@cider/protocol';
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { Logger } from 'pino';
import type { CommandBus } from '../gateway/commands.ts';
import type { ControlRecorder } from '../metrics/control-metrics.ts';
import type { NodeSlots } from './node-slots.ts';

export interface SyncWorkerOptions {
  deps: ServiceDeps;
  commands: CommandBus;
  outcomes: SyncOutcomeRouter;
  slots: NodeSlots;
  log: Logger;
  stallTimeoutMs: number;
  /** How long an offline node's job waits before it is looked at again (it is promoted at reconnect anyway). */
  offlineRecheckMs?: number;
  /** How often a waiting dispatcher reads its job's row, in case an outcome was lost (default 15 s). */
  pollMs?: number;
  /** Told when a job is handed to its agent (dispatch latency). */
  recorder?: ControlRecorder;
}

/** How a wait for the agent ended. */
type Waited =
  | { kind: 'done' | 'cancelled' | 'requeued' | 'offline' | 'stalled' | 'abandoned' }
  | { kind: 'retry' | 'failed'; error: string };

export interface SyncProcessor {
  process(payload: JobPayload<'sync'>, job: Job<JobPayload<'sync'>>, token?: string): Promise<void>;
  /** Stops waiting on agents: the jobs stay active in Redis and another control process takes them over as stalled. */
  abandonAll(): void;
}

export function createSyncProcessor(options: SyncWorkerOptions): SyncProcessor {
  const { deps, commands, outcomes, slots, log } = options;
  const offlineRecheckMs = options.offlineRecheckMs ?? 60_000;
  const shutdown = new AbortController();
  // Every job in flight listens for the shutdown: hundreds at once are expected, not a leak.
  setMaxListeners(0, shutdown.signal);
  const registries = new RegistryCache(deps);

  async function processSync(payload: JobPayload<'sync'>, job: Job<JobPayload<'sync'>>, token?: string): Promise<void> {
    const { syncJobId, nodeId, digest, registryId } = payload;
    const found = await deps.db.syncJob.findUnique({ where: { id: syncJobId }, include: { node: true } });
    // Finished, or being cancelled: decided elsewhere, nothing to send.
    if (!found || !isOpen(found.state) || found.state === 'cancelling') return;
    const { node, ...row } = found;
    const apply = (event: SyncEvent) => applySyncEvent(deps, row.id, event);
    if (!node || node.revokedAt) {
      await applySyncEvent(deps, row, { type: 'cancel', reason: 'the node was removed or revoked', agentReachable: false });
      return;
    }
    if (await deps.db.nodeImage.findUnique({ where: { nodeId_digest: { nodeId, digest } } })) {
      await applySyncEvent(deps, row, { type: 'done' });
      return;
    }
    const delay = async (ms: number): Promise<never> => {
      // Not an attempt: wait for the node (or a free slot on it) without spending retries.
      await job.moveToDelayed(Date.now() + ms, token);
      throw new DelayedError();
    };
    if (nodeStatus(node) !== 'online') return delay(offlineRecheckMs);
    if (!(await slots.acquire(nodeId, syncJobId))) return delay(5_000);
    const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    try {
      let waited: Waited;
      if (row.state === 'queued') {
        const registry = await registries.get(registryId);
        if (!registry) {
          const error = 'The registry of this image is no longer connected.';
          await applySyncEvent(deps, row, { type: 'failed', error, retryable: false });
          throw new UnrecoverableError(error);
        }
        // A short-lived grant for this job alone (sealed to the node's key), made before dispatch.
        const pullJob = { syncJobId, nodePublicKey: node.publicKey, repository: parseReference(payload.reference).repository };
        const access = await registryAccess(deps, registry, pullJob);
        const mirror = await siteMirrorAccess(deps, { registryId: registry.id, nodeLabels: node.labels, job: pullJob }).catch((error: unknown) => {
          // A mirror only spares the registry: without it the agent pulls from the registry itself.
          log.warn({ err: error, syncJobId }, 'preparing the site mirror failed; dispatched without it');
          return undefined;
        });
        waited = await waitForAgent(payload, async () => {
          // Refused when the job was cancelled (or otherwise decided) since it was read: nothing to send.
          if (!(await applySyncEvent(deps, row, { type: 'dispatch', attempt: job.attemptsMade + 1 })).applied) return undefined;
          const peers = await peerPlanFor(deps, { syncJobId, nodeId, digest }, { known: { ...row, node } }).catch((error: unknown) => {
            // Peers only speed a pull up: without them the agent pulls from the registry alone.
            log.warn({ err: error, syncJobId }, 'planning peers failed; dispatched without peers');
            return undefined;
          });
          // The row was last written when the job was queued (or queued again after a failed attempt).
          options.recorder?.dispatched(row.updatedAt);
          return { type: 'sync', jobId: syncJobId, digest, reference: payload.reference, registry: access, ...(peers ? { peers } : {}), ...(mirror ? { mirror } : {}) };
        });
      } else {
        // Sent before, and its agent is on it (this control plane restarted, or the node came back
        // still running it): not sent again, only waited for.
        waited = await waitForAgent(payload, undefined);
      }
      switch (waited.kind) {
        case 'done':
        case 'cancelled':
          return;
        case 'failed':
          throw new UnrecoverableError(waited.error);
        case 'abandoned':
          // Neither done nor failed: the job stays active in Redis and, once this process is
          // gone, stalls over to another control process without spending an attempt.
          await slots.release(nodeId, syncJobId);
          return new Promise<never>(() => {});
        case 'offline':
          return await delay(offlineRecheckMs);
        case 'requeued':
          return await delay(100);
        case 'stalled': {
          const error = `No word from node ${node.name} for ${Math.round(options.stallTimeoutMs / 1000)} s`;
          const stalled = await apply({ type: 'stalled', error });
          if (stalled.applied && stalled.job?.state === 'cancelled') return;
          return await retryOrGiveUp(error);
        }
        case 'retry':
          return await retryOrGiveUp(waited.error);
      }
    } finally {
      await slots.release(nodeId, syncJobId);
    }

    async function retryOrGiveUp(error: string): Promise<never> {
      if (!lastAttempt) throw new Error(error);
      await apply({ type: 'exhausted', error });
      throw new UnrecoverableError(error);
    }
  }

  /** Listens for the job's outcomes, then dispatches it (when `dispatch` is given) and waits for the first that ends the wait. */
  async function waitForAgent(payload: JobPayload<'sync'>, dispatch?: () => Promise<ControlMessage | undefined>): Promise<Waited> {
    const { syncJobId, nodeId } = payload;
    let settle: (waited: Waited) => void = () => {};
    const settled = new Promise<Waited>((resolve) => (settle = resolve));
    let stallTimer: NodeJS.Timeout | undefined;
    const armStall = () => {
      clearTimeout(stallTimer);
      stallTimer = setTimeout(() => settle({ kind: 'stalled' }), options.stallTimeoutMs);
    };
    let sent: Promise<unknown> = Promise.resolve();
    // Outcomes can be missed (a Redis blip); the row is the truth, so look at it now and then. A
    // database error is logged and the wait goes on: the stall timer still bounds it.
    const readRow = async () => {
      try {
        const current = await deps.db.syncJob.findUnique({ where: { id: syncJobId } });
        const waited = current ? fromRow(current) : { kind: 'cancelled' as const };
        if (waited) settle(waited);
      } catch (error) {
        log.warn({ err: error, syncJobId }, 'reading a sync job failed; still waiting');
      }
    };
    const onOutcome = (outcome: SyncOutcome) => {
      switch (outcome.kind) {
        case 'progressed':
          armStall();
          void slots.acquire(nodeId, syncJobId).catch(() => {}); // renews our claim during a long pull
          return;
        case 'cancelling':
          // Said after our `sync` on the same connection, so the agent cannot get them the other way round.
          void sent.then(() => commands.send(nodeId, { type: 'cancel', jobId: syncJobId, reason: 'the sync job was cancelled' })).catch(() => {});
          return;
        case 'node-offline':
          deps.db.node.findUnique({ where: { id: nodeId } }).then(
            (n) => {
              if (!n || nodeStatus(n) !== 'online') settle({ kind: 'offline' });
            },
            (error: unknown) => log.warn({ err: error, nodeId }, 'reading a node failed; still waiting'),
          );
          return;
        case 'retry':
        case 'failed':
          settle({ kind: outcome.kind, error: outcome.error });
          return;
        default:
          settle({ kind: outcome.kind });
      }
    };
    const stop = await outcomes.listen([syncJobId, nodeId], onOutcome);
    const poll = setInterval(() => void readRow(), options.pollMs ?? 15_000);
    const abandon = () => settle({ kind: 'abandoned' });
    shutdown.signal.addEventListener('abort', abandon);
    try {
      armStall();
      if (dispatch) {
        const message = await dispatch();
        if (!message) return { kind: 'cancelled' };
        sent = commands.send(nodeId, message);
        await sent;
        log.debug({ syncJobId, nodeId }, 'sync job dispatched');
      } else void readRow(); // what happened while nobody was waiting
      return await settled;
    } finally {
      stop();
      clearInterval(poll);
      clearTimeout(stallTimer);
      shutdown.signal.removeEventListener('abort', abandon);
    }
  }

  return { process: processSync, abandonAll: () => shutdown.abort() };
}

/** What a job's row says about a wait for its agent (undefined: keep waiting). */
function fromRow(row: SyncJob): Waited | undefined {
  switch (row.state) {
    case 'done':
    case 'cancelled':
      return { kind: row.state };
    case 'failed':
      return { kind: 'failed', error: row.error ?? 'the sync failed' };
    case 'queued':
      // Back in the queue while we waited: its attempt failed (it carries the error), or its agent lost it.
      return row.error ? { kind: 'retry', error: row.error } : { kind: 'requeued' };
    default:
      return undefined;
  }
}

/** Registry rows change rarely; a few seconds of staleness saves a query per dispatched job. */
class RegistryCache {
  private readonly entries = new Map<string, { at: number; registry: Registry | null }>();
  constructor(private readonly deps: ServiceDeps) {}
  async get(id: string): Promise<Registry | null> {
    const hit = this.entries.get(id);
    if (hit && Date.now() - hit.at < 10_000) return hit.registry;
    const registry = await this.deps.db.registry.findUnique({ where: { id } });
    this.entries.set(id, { at: Date.now(), registry });
    return registry;
  }
}

/** After the last attempt fails for any reason (a throw before dispatch, say), the row says so. */
export async function onSyncFailedForGood(deps: ServiceDeps, job: Job<JobPayload<'sync'>> | undefined, error: Error): Promise<void> {
  if (!job || job.attemptsMade < (job.opts.attempts ?? 1)) return;
  const syncJobId = (job.data as { syncJobId?: unknown } | undefined)?.syncJobId;
  if (typeof syncJobId !== 'string' || !/^[0-9a-f-]{36}$/i.test(syncJobId)) return; // a malformed payload names no job
  await applySyncEvent(deps, syncJobId, { type: 'exhausted', error: error.message });
}
