// Fleet events: what changed, published on Redis pub/sub by whoever changed it, fanned out to
// browsers as tRPC subscriptions (SSE). Events say what to refresh; the data stays in PostgreSQL.
import type { Redis } from 'ioredis';
import { z } from 'zod';

export const fleetEvent = z.discriminatedUnion('type', [
  z.object({ type: z.literal('node.updated'), nodeId: z.string() }),
  z.object({ type: z.literal('node.inventory'), nodeId: z.string() }),
  z.object({
    type: z.literal('sync.updated'),
    nodeId: z.string(),
    digest: z.string(),
    syncJobId: z.string(),
    state: z.string(),
  }),
  z.object({
    type: z.literal('sync.progress'),
    nodeId: z.string(),
    digest: z.string(),
    syncJobId: z.string(),
    phase: z.string(),
    bytesDone: z.number(),
    bytesTotal: z.number(),
  }),
  z.object({ type: z.literal('pin.updated'), projectId: z.string(), pinId: z.string() }),
  z.object({ type: z.literal('registry.updated'), registryId: z.string() }),
  z.object({ type: z.literal('project.updated'), projectId: z.string() }),
  /** Any successful change through the API (users, teams, tokens...): other open pages refresh. */
  z.object({ type: z.literal('data.changed'), path: z.string() }),
]);
export type FleetEvent = z.infer<typeof fleetEvent>;

export function eventsChannel(prefix: string): string {
  return `${prefix}:events`;
}

export interface EventPublisher {
  publish(event: FleetEvent): Promise<void>;
  /** Several events in one round trip. */
  publishMany(events: FleetEvent[]): Promise<void>;
}

export class RedisEventPublisher implements EventPublisher {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}
  async publish(event: FleetEvent): Promise<void> {
    await this.redis.publish(eventsChannel(this.prefix), JSON.stringify(event));
  }

  async publishMany(events: FleetEvent[]): Promise<void> {
    if (events.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const event of events) pipeline.publish(eventsChannel(this.prefix), JSON.stringify(event));
    await pipeline.exec();
  }
}

/**
 * One Redis subscription per process, shared by every listener (browser streams, waiting
 * dispatchers). `subscriber` must be a connection of its own: Redis puts it in subscriber mode.
 */
export class EventHub {
  private readonly listeners = new Set<(event: FleetEvent) => void>();
  private started: Promise<unknown> | undefined;

  constructor(
    private readonly subscriber: Redis,
    private readonly prefix: string,
  ) {}

  private start(): Promise<unknown> {
    this.started ??= (async () => {
      this.subscriber.on('message', (_channel: string, raw: string) => {
        let parsed;
        try {
          parsed = fleetEvent.safeParse(JSON.parse(raw));
        } catch {
          return;
        }
        if (!parsed.success) return;
        for (const listener of this.listeners) listener(parsed.data);
      });
      await this.subscriber.subscribe(eventsChannel(this.prefix));
    })();
    return this.started;
  }

  /** Calls `listener` for every event until the returned function is called. */
  async listen(listener: (event: FleetEvent) => void): Promise<() => void> {
    this.listeners.add(listener);
    await this.start();
    return () => this.listeners.delete(listener);
  }

  /** An async iterator of events, ended by `signal`. */
  async *stream(signal?: AbortSignal): AsyncGenerator<FleetEvent> {
    const queue: FleetEvent[] = [];
    let wake: (() => void) | undefined;
    const stop = await this.listen((event) => {
      queue.push(event);
      wake?.();
    });
    const onAbort = () => wake?.();
    signal?.addEventListener('abort', onAbort);
    try {
      while (!signal?.aborted) {
        if (queue.length === 0) await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        while (queue.length > 0) yield queue.shift()!;
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      stop();
    }
  }
}
