// The live-events subscription (events.stream) as a browser gets it: the tRPC endpoint answering
// a GET with server-sent events, over the real EventHub and Redis pub/sub. A published event
// reaches the subscriber, the stream ends (and lets go of the hub) when the browser goes away,
// and nobody signed out gets one.
import { EventHub, eventsChannel, type FleetEvent } from '../../events.ts';
import { createTrpcHandler } from '../../http/trpc-handler.ts';
import { createApiToken } from '../../services/access/api-tokens.ts';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import superjson from 'superjson';
import { useRouterHarness } from '../../../testing/test-context.ts';

const harness = useRouterHarness();
const site = 'http://dashboard.test:3000';

/** Server-sent events from a response body, one `data:` payload (tRPC's superjson envelope) at a time. */
async function* serverSentData(body: ReadableStream<Uint8Array>): AsyncGenerator<{ event?: string; data: string }> {
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of body) {
    buffered += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffered.indexOf('\n\n')) >= 0) {
      const block = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      const event = /^event: ?(.*)$/m.exec(block)?.[1];
      const data = block
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.replace(/^data: ?/, ''))
        .join('\n');
      if (data) yield { event, data };
    }
  }
}

describe('events.stream (tRPC over SSE, real EventHub and Redis)', () => {
  let hub: EventHub;
  /** Streams of the hub still running: each one subscribed, and not yet ended. */
  let running = 0;
  let token: string;
  let handle: (req: Request) => Promise<Response>;

  beforeAll(async () => {
    // A hub of its own, on its own subscriber connection, so this test sees when it subscribes.
    const real = new EventHub(harness.deps.redis.duplicate(), harness.deps.prefix);
    hub = Object.assign(Object.create(real) as EventHub, {
      stream: async function* (signal?: AbortSignal) {
        running++;
        try {
          yield* real.stream(signal);
        } finally {
          running--;
        }
      },
    });
    const viewer = await harness.user('viewer');
    ({ token } = await createApiToken(harness.deps, { label: 'test' }, { userId: viewer.id, name: 'events' }));
    handle = createTrpcHandler({ endpoint: '/api/trpc', services: () => ({ deps: harness.deps, hub }), trustedProxyHops: 0, forceSecureCookies: false });
  });
  afterAll(() => {
    (hub as unknown as { subscriber?: { disconnect(): void } }).subscriber?.disconnect();
  });

  /** How many connections listen on the fleet events channel. */
  const listeners = async () => {
    const [, count] = (await harness.deps.redis.pubsub('NUMSUB', eventsChannel(harness.deps.prefix))) as [string, number];
    return Number(count);
  };

  it('delivers a published event to a signed-in subscriber, and ends the stream when the browser goes away', async () => {
    expect(await listeners()).toBe(0);
    const browser = new AbortController();
    const response = await handle(new Request(`${site}/api/trpc/events.stream`, { headers: { authorization: `Bearer ${token}` }, signal: browser.signal }));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = serverSentData(response.body!);

    // The stream subscribes as it starts; once Redis counts the subscription, nothing published is missed.
    await vi.waitFor(async () => expect(await listeners()).toBe(1), { timeout: 5_000, interval: 10 });
    const published: FleetEvent = { type: 'node.updated', nodeId: 'mac-events-1' };
    await harness.deps.events.publish(published);
    let received: unknown;
    // Read by hand: leaving a for-await loop would cancel the body, as a browser closing the page does.
    const firstEvent = async () => {
      for (let next = await events.next(); !next.done; next = await events.next()) {
        // tRPC says `connected` first (and pings when idle); the event is a data-only message.
        if (next.value.event === undefined) return superjson.deserialize(JSON.parse(next.value.data) as never);
      }
      return undefined;
    };
    let timer: NodeJS.Timeout | undefined;
    try {
      received = await Promise.race([firstEvent(), new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('no event reached the stream within 5 s')), 5_000)))]);
    } finally {
      clearTimeout(timer);
    }
    expect(received).toEqual(published);
    expect(running).toBe(1);

    browser.abort();
    // The server's generator ends: it stops listening to the hub.
    await vi.waitFor(() => expect(running).toBe(0), { timeout: 5_000, interval: 10 });
    await expect(events.next()).resolves.toMatchObject({ done: true });
  });

  it('refuses a subscriber who is not signed in, before it reaches the hub', async () => {
    const response = await handle(new Request(`${site}/api/trpc/events.stream`));
    // The stream opens (SSE has no status of its own per message), then carries the refusal and ends.
    const messages: { event?: string; data: string }[] = [];
    for await (const message of serverSentData(response.body!)) messages.push(message);
    expect(messages.map((m) => m.event)).toEqual(['connected', 'serialized-error']);
    expect(JSON.parse(messages[1]!.data)).toMatchObject({ json: { data: { code: 'UNAUTHORIZED' } } });
    expect(running).toBe(0);
  });
});
