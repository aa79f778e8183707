// Fleet events: what changed, published on Redis pub/sub by whoever changed it, fanned out to
// browsers as tRPC subscriptions (SSE). Events say what to refresh; the data stays in PostgreSQL.
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { ServiceUnavailableError, withTimeout, type OutageReporter } from './outage.ts';
import { syncJobStates } from './services/sync/lifecycle.ts';
import { serverTaskStates } from './services/tasks/states.ts';

export const fleetEvent = z.discriminatedUnion('type', [
  z.object({ type: z.literal('node.updated'), nodeId: z.string() }),
  z.object({ type: z.literal('node.inventory'), nodeId: z.string() }),
  z.object({
    type: z.literal('sync.updated'),
    nodeId: z.string(),
    digest: z.string(),
    syncJobId: z.string(),
    /** The job's new state; dispatchers hear outcomes on their own channel (services/sync/outcomes.ts). */
    state: z.enum(syncJobStates),
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
  /** A server task (services/tasks) was created, started, ended or asked to cancel. */
  z.object({ type: z.literal('task.updated'), taskId: z.string(), state: z.enum(serverTaskStates) }),
  /** A running server task moved its bar (at most about once a second per task). */
  z.object({
    type: z.literal('task.progress'),
    taskId: z.string(),
    bytesDone: z.number(),
    bytesTotal: z.number().nullable(),
    message: z.string().nullable(),
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
  /** Never throws and never waits long: events are hints, and the change they announce is already committed. */
  publish(event: FleetEvent): Promise<void>;
  /** Several events in one round trip. */
  publishMany(events: FleetEvent[]): Promise<void>;
}

export interface RedisEventPublisherOptions {
  /** The longest a publish may take before it is given up (default 1 s). */
  timeoutMs?: number;
  /** Where dropped events are reported (a few lines per outage). */
  reporter?: OutageReporter;
}

/**
 * Publishes on Redis pub/sub, fire-and-forget: a publish that fails or takes longer than
 * `timeoutMs` is dropped and reported, never thrown, so a mutation that committed is never
 * failed or held up by Redis. While Redis is known to be down, events are dropped at once
 * rather than queued (memory would grow for as long as the outage lasts); open pages refetch
 * everything when their event stream reconnects, so nothing they show stays stale.
 */
export class RedisEventPublisher implements EventPublisher {
  private connectedOnce: boolean;
  private readonly timeoutMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly options: RedisEventPublisherOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 1_000;
    this.connectedOnce = redis.status === 'ready';
    redis.on('ready', () => (this.connectedOnce = true));
  }

  publish(event: FleetEvent): Promise<void> {
    return this.send([event]);
  }

  publishMany(events: FleetEvent[]): Promise<void> {
    return events.length === 0 ? Promise.resolve() : this.send(events);
  }

  private async send(events: FleetEvent[]): Promise<void> {
    const channel = eventsChannel(this.prefix);
    try {
      // Before the first connection, commands wait briefly in ioredis's queue (a process that
      // just started); after it, a connection that is not ready means Redis is down.
      if (this.connectedOnce && this.redis.status !== 'ready') throw new ServiceUnavailableError('redis', `Redis connection is ${this.redis.status}`);
      const sent: Promise<unknown> =
        events.length === 1
          ? this.redis.publish(channel, JSON.stringify(events[0]))
          : events.reduce((pipeline, event) => pipeline.publish(channel, JSON.stringify(event)), this.redis.pipeline()).exec();
      await withTimeout(sent, this.timeoutMs, () => new ServiceUnavailableError('redis', `publishing took longer than ${this.timeoutMs} ms`));
      this.options.reporter?.recovered();
    } catch (error) {
      this.options.reporter?.failed(error, 'live events are dropped until it is back; open pages refresh when their stream reconnects');
    }
  }
}

/** A pub/sub message checked against its schema; undefined for anything else (not JSON, wrong shape). */
export function parseChannelMessage<T>(schema: z.ZodType<T>, raw: string): T | undefined {
  try {
    const parsed = schema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * One Redis subscription per process, shared by every listener (browser streams, waiting
 * dispatchers). `subscriber` must be a connection of its own: Redis puts it in subscriber mode.
 * ioredis resubscribes by itself after a reconnect; browser streams, which cannot know what they
 * missed meanwhile, are ended when the connection drops, so the browser shows "reconnecting" and
 * refetches everything when its new stream starts.
 */
export class EventHub {
  private readonly listeners = new Set<(event: FleetEvent) => void>();
  private readonly lossHandlers = new Set<(error: Error) => void>();
  private subscribed: Promise<unknown> | undefined;

  constructor(
    private readonly subscriber: Redis,
    private readonly prefix: string,
    private readonly options: { readyTimeoutMs?: number } = {},
  ) {
    subscriber.on('message', (channel: string, raw: string) => {
      if (channel !== eventsChannel(this.prefix)) return;
      const event = parseChannelMessage(fleetEvent, raw);
      if (event) for (const listener of this.listeners) listener(event);
    });
    subscriber.on('close', () => {
      if (this.lossHandlers.size === 0) return;
      const lost = new ServiceUnavailableError('redis', 'Live updates were interrupted: Redis is unreachable. Reconnecting.');
      for (const handler of this.lossHandlers) handler(lost);
    });
  }

  private subscribe(): Promise<unknown> {
    this.subscribed ??= this.subscriber.subscribe(eventsChannel(this.prefix)).catch((error: unknown) => {
      this.subscribed = undefined;
      throw error;
    });
    return this.subscribed;
  }

  /** Calls `listener` for every event until the returned function is called; waits for Redis if it is down. */
  async listen(listener: (event: FleetEvent) => void): Promise<() => void> {
    this.listeners.add(listener);
    try {
      await this.subscribe();
    } catch (error) {
      this.listeners.delete(listener);
      throw error;
    }
    return () => this.listeners.delete(listener);
  }

  /** Resolves when the subscription is live, or rejects with a ServiceUnavailableError after `readyTimeoutMs`. */
  private async live(): Promise<void> {
    const timeoutMs = this.options.readyTimeoutMs ?? 3_000;
    const unavailable = () => new ServiceUnavailableError('redis', 'Live updates are unavailable: Redis is unreachable. Reconnecting.');
    if (this.subscriber.status !== 'ready') {
      let onReady: (() => void) | undefined;
      const ready = new Promise<void>((resolve) => this.subscriber.once('ready', (onReady = resolve)));
      try {
        await withTimeout(ready, timeoutMs, unavailable);
      } finally {
        if (onReady) this.subscriber.off('ready', onReady);
      }
    }
    await withTimeout(this.subscribe(), timeoutMs, unavailable);
  }

  /**
   * An async iterator of events, ended by `signal`. For browsers: it throws a
   * ServiceUnavailableError (their cue to reconnect) when Redis is down at the start, within
   * `readyTimeoutMs`, or when the connection drops while it runs.
   */
  async *stream(signal?: AbortSignal): AsyncGenerator<FleetEvent> {
    const queue: FleetEvent[] = [];
    let wake: (() => void) | undefined;
    let lost: Error | undefined;
    const onLost = (error: Error) => {
      lost = error;
      wake?.();
    };
    await this.live();
    this.lossHandlers.add(onLost);
    const stop = await this.listen((event) => {
      queue.push(event);
      wake?.();
    });
    const onAbort = () => wake?.();
    signal?.addEventListener('abort', onAbort);
    try {
      while (!signal?.aborted) {
        if (queue.length === 0 && !lost) await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        while (queue.length > 0) yield queue.shift()!;
        if (lost) throw lost;
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.lossHandlers.delete(onLost);
      stop();
    }
  }
}
