// Sync dispatch: sends a job to its node's agent, follows its progress, and completes only when
// the agent reports the expected digest. An offline node's jobs wait (delayed, not failed)
// until it comes back; a failed attempt is retried with backoff by BullMQ.
import { setMaxListeners } from 'node:events';
import {
  cancelJob,
  finishJob,
  markDispatched,
  nodeStatus,
  registryAccess,
  type EventHub,
  type FleetEvent,
  type JobPayload,
  type ServiceDeps,
} from '@cider/api/services';
import type { Registry } from '@cider/db';
import { parseReference } from '@cider/oci';
import type { RegistryAccess } from '@cider/protocol';
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { Logger } from 'pino';
import type { CommandBus } from '../gateway/commands.ts';
import type { NodeSlots } from './node-slots.ts';

export interface SyncWorkerOptions {
  deps: ServiceDeps;
  hub: EventHub;
  commands: CommandBus;
  slots: NodeSlots;
  log: Logger;
  stallTimeoutMs: number;
  /** How long an offline node's job waits before it is looked at again (it is promoted at reconnect anyway). */
  offlineRecheckMs?: number;
}

type Outcome =
  | { kind: 'done' }
  | { kind: 'cancelled' }
  | { kind: 'attempt-failed'; error: string; permanent: boolean }
  | { kind: 'offline' }
  | { kind: 'stalled' }
  | { kind: 'abandoned' };

export interface SyncProcessor {
  process(job: Job<JobPayload<'sync'>>, token?: string): Promise<void>;
  /** Stops waiting on agents: the jobs stay active in Redis and another control process takes them over as stalled. */
  abandonAll(): void;
}

export function createSyncProcessor(options: SyncWorkerOptions): SyncProcessor {
  const { deps, hub, commands, slots, log } = options;
  const offlineRecheckMs = options.offlineRecheckMs ?? 60_000;
  const shutdown = new AbortController();
  // Every job in flight listens for the shutdown: hundreds at once are expected, not a leak.
  setMaxListeners(0, shutdown.signal);
  const events = new EventRouter(hub);
  const registries = new RegistryCache(deps);

  async function processSync(job: Job<JobPayload<'sync'>>, token?: string): Promise<void> {
    const { syncJobId, nodeId, digest, registryId } = job.data;
    const found = await deps.db.syncJob.findUnique({ where: { id: syncJobId }, include: { node: true } });
    if (!found || found.state === 'done' || found.state === 'cancelled' || found.state === 'failed') return;
    const { node, ...row } = found;
    const held = await deps.db.nodeImage.findUnique({ where: { nodeId_digest: { nodeId, digest } } });
    if (held) {
      await finishJob(deps, row, 'done', null);
      return;
    }
    if (!node || node.revokedAt) {
      await cancelJob(deps, row, 'the node was removed or revoked');
      return;
    }
    if (nodeStatus(node) !== 'online' || !(await slots.acquire(nodeId, syncJobId))) {
      // Not an attempt: wait for the node (or a free slot on it) without spending retries.
      await job.moveToDelayed(Date.now() + (nodeStatus(node) === 'online' ? 5_000 : offlineRecheckMs), token);
      throw new DelayedError();
    }
    try {
      const registry = await registries.get(registryId);
      if (!registry) {
        await finishJob(deps, row, 'failed', 'The registry of this image is no longer connected.');
        throw new UnrecoverableError('registry removed');
      }
      // A short-lived grant for this job alone (sealed to the node's key), made before dispatch.
      const access = await registryAccess(deps, registry, { syncJobId, nodePublicKey: node.publicKey, repository: parseReference(job.data.reference).repository });
      await markDispatched(deps, row, job.attemptsMade + 1);
      const outcome = await dispatchAndWait(job, access);
      switch (outcome.kind) {
        case 'done':
        case 'cancelled':
          return;
        case 'abandoned':
          // Neither done nor failed: the job stays active in Redis and, once this process is
          // gone, stalls over to another control process without spending an attempt.
          await slots.release(nodeId, syncJobId);
          return new Promise<never>(() => {});
        case 'offline':
          await job.moveToDelayed(Date.now() + offlineRecheckMs, token);
          throw new DelayedError();
        case 'stalled':
          throw new Error(`No word from node ${node.name} for ${Math.round(options.stallTimeoutMs / 1000)} s`);
        case 'attempt-failed':
          if (outcome.permanent) {
            // Retrying cannot help (no such image, tampered content...); the periodic reconcile tries again later.
            await finishJob(deps, row, 'failed', outcome.error);
            throw new UnrecoverableError(outcome.error);
          }
          throw new Error(outcome.error);
      }
    } finally {
      await slots.release(nodeId, syncJobId);
    }
  }

  async function dispatchAndWait(job: Job<JobPayload<'sync'>>, registry: RegistryAccess): Promise<Outcome> {
    const { syncJobId, nodeId, digest, reference } = job.data;
    let settle: (outcome: Outcome) => void = () => {};
    const settled = new Promise<Outcome>((resolve) => (settle = resolve));
    let stallTimer: NodeJS.Timeout | undefined;
    const armStall = () => {
      clearTimeout(stallTimer);
      stallTimer = setTimeout(() => settle({ kind: 'stalled' }), options.stallTimeoutMs);
    };
    // A database error while waiting is logged and the wait goes on: the row is read again at
    // the next event or poll, and the stall timer still bounds the wait.
    const readRow = async () => {
      try {
        const current = await deps.db.syncJob.findUnique({ where: { id: syncJobId } });
        if (current?.state === 'done') settle({ kind: 'done' });
        else if (current?.state === 'cancelled' || current?.state === 'failed') settle({ kind: 'cancelled' });
      } catch (error) {
        log.warn({ err: error, syncJobId }, 'reading a sync job failed; still waiting');
      }
    };
    const stop = await events.listen([syncJobId, nodeId], (event: FleetEvent) => {
      if (event.type === 'sync.progress' && event.syncJobId === syncJobId) {
        armStall();
        void slots.acquire(nodeId, syncJobId).catch(() => {}); // renews our claim during a long pull
        void job.updateProgress({ bytesDone: event.bytesDone, bytesTotal: event.bytesTotal }).catch(() => {});
      } else if (event.type === 'sync.updated' && event.syncJobId === syncJobId) {
        armStall();
        if (event.state === 'attempt-failed' || event.state === 'attempt-failed-permanent') {
          const permanent = event.state === 'attempt-failed-permanent';
          deps.db.syncJob.findUnique({ where: { id: syncJobId } }).then(
            (r) => settle({ kind: 'attempt-failed', error: r?.error ?? 'the agent reported a failure', permanent }),
            (error: unknown) => {
              log.warn({ err: error, syncJobId }, 'reading a failed sync job; failing the attempt without its message');
              settle({ kind: 'attempt-failed', error: 'the agent reported a failure', permanent });
            },
          );
        } else void readRow();
      } else if (event.type === 'node.updated' && event.nodeId === nodeId) {
        deps.db.node.findUnique({ where: { id: nodeId } }).then(
          (n) => {
            if (!n || nodeStatus(n) !== 'online') settle({ kind: 'offline' });
          },
          (error: unknown) => log.warn({ err: error, nodeId }, 'reading a node failed; still waiting'),
        );
      }
    });
    // Events can be missed (a Redis blip); the row is the truth, so look at it now and then.
    const poll = setInterval(() => void readRow(), 15_000);
    const abandon = () => settle({ kind: 'abandoned' });
    shutdown.signal.addEventListener('abort', abandon);
    try {
      armStall();
      await commands.send(nodeId, { type: 'sync', jobId: syncJobId, digest, reference, registry });
      log.debug({ syncJobId, nodeId, digest, attempt: job.attemptsMade + 1 }, 'sync job dispatched');
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

/**
 * One hub subscription for every job in flight, routing each event by the sync job or node it
 * names: with a thousand jobs in flight, each event reaches only the one waiting for it.
 */
class EventRouter {
  private readonly handlers = new Map<string, Set<(event: FleetEvent) => void>>();
  private started: Promise<unknown> | undefined;

  constructor(private readonly hub: EventHub) {}

  async listen(keys: string[], handler: (event: FleetEvent) => void): Promise<() => void> {
    for (const key of keys) {
      let set = this.handlers.get(key);
      if (!set) this.handlers.set(key, (set = new Set()));
      set.add(handler);
    }
    this.started ??= this.hub.listen((event) => {
      const keys = new Set<string>();
      if ('syncJobId' in event) keys.add(event.syncJobId);
      if ('nodeId' in event) keys.add(event.nodeId);
      const called = new Set<(event: FleetEvent) => void>();
      for (const key of keys) {
        for (const h of this.handlers.get(key) ?? []) {
          if (called.has(h)) continue;
          called.add(h);
          h(event);
        }
      }
    });
    await this.started;
    return () => {
      for (const key of keys) {
        const set = this.handlers.get(key);
        set?.delete(handler);
        if (set?.size === 0) this.handlers.delete(key);
      }
    };
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

/** After the last attempt fails, the row says so. */
export async function onSyncFailedForGood(deps: ServiceDeps, job: Job<JobPayload<'sync'>> | undefined, error: Error): Promise<void> {
  if (!job || job.attemptsMade < (job.opts.attempts ?? 1)) return;
  const row = await deps.db.syncJob.findUnique({ where: { id: job.data.syncJobId } });
  if (row) await finishJob(deps, row, 'failed', row.error ?? error.message);
}
