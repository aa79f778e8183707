// What a sync job's dispatcher needs to hear: a typed Redis pub/sub channel of its own, apart from
// the browser's event bus (which says what pages should refresh). transitions.ts publishes an
// outcome whenever a transition has one; the gateway says when a node's socket closed. Every
// message is parsed on arrival. Outcomes are hints, like events: a dispatcher also reads the row
// now and then, so one lost in a Redis blip only delays it.
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { parseChannelMessage } from '../../events.ts';
import type { ServiceDeps } from '../deps.ts';

const id = z.string().uuid();

export const syncOutcome = z.discriminatedUnion('kind', [
  /** The agent is on it (bytes, or it said so at reconnect): the stall timer starts again. */
  z.object({ kind: z.literal('progressed'), syncJobId: id, nodeId: id }),
  z.object({ kind: z.literal('done'), syncJobId: id, nodeId: id }),
  /** The attempt failed and another may help: the job is queued again with this error. */
  z.object({ kind: z.literal('retry'), syncJobId: id, nodeId: id, error: z.string().max(2000) }),
  /** Failed for good. */
  z.object({ kind: z.literal('failed'), syncJobId: id, nodeId: id, error: z.string().max(2000) }),
  /** Cancel asked for; the agent has been told. */
  z.object({ kind: z.literal('cancelling'), syncJobId: id, nodeId: id }),
  z.object({ kind: z.literal('cancelled'), syncJobId: id, nodeId: id }),
  /** The agent reconnected without the job (it restarted): send it again, no attempt spent. */
  z.object({ kind: z.literal('requeued'), syncJobId: id, nodeId: id }),
  /** The node's socket closed: its jobs wait for it to come back. */
  z.object({ kind: z.literal('node-offline'), nodeId: id }),
]);
export type SyncOutcome = z.infer<typeof syncOutcome>;

export function syncOutcomesChannel(prefix: string): string {
  return `${prefix}:sync-outcomes`;
}

/** Never throws: a lost outcome is found by the dispatcher's next look at the row. */
export async function publishSyncOutcome(deps: Pick<ServiceDeps, 'redis' | 'prefix'>, outcome: SyncOutcome): Promise<void> {
  await deps.redis.publish(syncOutcomesChannel(deps.prefix), JSON.stringify(outcome)).catch(() => {});
}

/**
 * One subscription per process for every job in flight, routing each outcome by the sync job (or,
 * for a node's, the node) it names: with a thousand jobs waiting, each reaches only its own.
 * `subscriber` must be a connection of its own (Redis puts it in subscriber mode).
 */
export class SyncOutcomeRouter {
  private readonly handlers = new Map<string, Set<(outcome: SyncOutcome) => void>>();
  private subscribed: Promise<unknown> | undefined;

  constructor(
    private readonly subscriber: Redis,
    private readonly prefix: string,
  ) {
    subscriber.on('message', (channel: string, raw: string) => {
      if (channel !== syncOutcomesChannel(this.prefix)) return;
      const outcome = parseChannelMessage(syncOutcome, raw);
      if (outcome) this.route(outcome);
    });
  }

  /** A job's outcomes go to those listening on its id; a node's (offline) to those listening on the node's. */
  private route(outcome: SyncOutcome): void {
    const key = 'syncJobId' in outcome ? outcome.syncJobId : outcome.nodeId;
    for (const handler of this.handlers.get(key) ?? []) handler(outcome);
  }

  /** Calls `handler` for the outcomes of the jobs and nodes `keys` name, until the returned function is called. */
  async listen(keys: string[], handler: (outcome: SyncOutcome) => void): Promise<() => void> {
    for (const key of keys) {
      let set = this.handlers.get(key);
      if (!set) this.handlers.set(key, (set = new Set()));
      set.add(handler);
    }
    this.subscribed ??= this.subscriber.subscribe(syncOutcomesChannel(this.prefix)).catch((error: unknown) => {
      this.subscribed = undefined;
      throw error;
    });
    const stop = () => {
      for (const key of keys) {
        const set = this.handlers.get(key);
        set?.delete(handler);
        if (set?.size === 0) this.handlers.delete(key);
      }
    };
    try {
      await this.subscribed;
    } catch (error) {
      stop();
      throw error;
    }
    return stop;
  }
}
