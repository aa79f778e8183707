// The consumers the job catalog makes, against real Redis: a handler sees only payloads its
// schema accepts; a malformed one fails its job at once and for good, saying what is wrong,
// and the worker goes on with the next job.
import { useRedisPrefix } from '@cider/services/testing';
import { QueueEvents, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobQueues, jobNames, type JobName } from './catalog.ts';
import { createConsumers, type JobConsumers, type JobHandler, type JobHandlers } from './consumers.ts';

const redis = useRedisPrefix();

describe('consumers made from the job catalog', () => {
  let producer: Redis;
  let queues: JobQueues;
  let consumers: JobConsumers;
  let events: QueueEvents;
  const connections: Redis[] = [];
  const handled: { name: JobName; payload: unknown }[] = [];

  beforeAll(async () => {
    producer = new Redis(redis.url, { maxRetriesPerRequest: null });
    queues = new JobQueues(producer, redis.prefix);
    const recording = <N extends JobName>(name: N): JobHandler<N> => ({
      concurrency: 1,
      async handle(payload) {
        handled.push({ name, payload });
      },
    });
    const handlers = Object.fromEntries(jobNames.map((name) => [name, recording(name)])) as JobHandlers;
    consumers = createConsumers(handlers, {
      connection: () => {
        const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
        connections.push(connection);
        return connection;
      },
      prefix: redis.prefix,
    });
    const eventsConnection = new Redis(redis.url, { maxRetriesPerRequest: null });
    connections.push(eventsConnection);
    events = new QueueEvents('reconcile', { connection: eventsConnection, prefix: redis.prefix });
    await events.waitUntilReady();
  });

  afterAll(async () => {
    await Promise.all(Object.values(consumers ?? {}).map((worker) => worker.close()));
    await events?.close();
    await queues?.close();
    for (const connection of connections) connection.disconnect();
    producer?.disconnect();
  });

  it('makes one worker per catalog entry', () => {
    expect(Object.keys(consumers).sort()).toEqual([...jobNames].sort());
    for (const name of jobNames) expect(consumers[name].name).toBe(name);
  });

  it('fails a malformed payload at once, for good, in words, and runs the next job', async () => {
    // Written past the catalog (as an older producer or a hand in redis-cli could): a node scope without its id.
    const raw = queues.queue('reconcile');
    const bad = await raw.add('reconcile', { scope: 'node', reason: 'no id', extra: 'x'.repeat(10) }, { attempts: 5 });
    const failed = await bad.waitUntilFinished(events, 10_000).then(
      () => undefined,
      (error: Error) => error,
    );
    expect(failed?.message).toMatch(/^The reconcile job \S+ carries a malformed payload and was not run: /);
    expect(failed?.message).toContain('a node or project scope names its id');
    const after = (await raw.getJob(bad.id!)) as Job;
    expect(after.attemptsMade).toBe(1); // unrecoverable: the other four attempts are not spent
    expect(handled.some((h) => (h.payload as { reason?: string }).reason === 'no id')).toBe(false);

    // The worker is still there for the next, well-formed job; its handler gets the parsed payload.
    await queues.add('reconcile', { scope: 'all', reason: 'after the bad one' });
    const deadline = Date.now() + 10_000;
    while (!handled.some((h) => h.name === 'reconcile') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(handled).toContainEqual({ name: 'reconcile', payload: { scope: 'all', reason: 'after the bad one' } });
  });

  it('hands a handler the schema-parsed payload, without fields the schema does not know', async () => {
    await queues.queue('registry-watch').add('registry-watch', { reason: 'watch', injected: { nested: true } });
    const deadline = Date.now() + 10_000;
    while (!handled.some((h) => h.name === 'registry-watch') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(handled.find((h) => h.name === 'registry-watch')?.payload).toEqual({ reason: 'watch' });
  });
});
