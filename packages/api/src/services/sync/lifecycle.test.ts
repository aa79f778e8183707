// The sync job lifecycle's table, cell by cell: every event in every state, the legal ones with
// where they lead (written out here, not derived from the code under test) and the illegal ones
// refused. Then what the legal ones change on the row, what they make happen, and who hears.
import { SyncJobState } from '@cider/db';
import { describe, expect, it } from 'vitest';
import { isOpen, openStates, syncJobStates, transition, type JobFacts, type SyncEvent } from './lifecycle.ts';

const events: Record<string, SyncEvent> = {
  dispatch: { type: 'dispatch', attempt: 2 },
  progress: { type: 'progress', bytesDone: 10, bytesTotal: 100 },
  done: { type: 'done' },
  'failed, retryable': { type: 'failed', error: 'registry answered 503', retryable: true },
  'failed for good': { type: 'failed', error: 'no such image', retryable: false },
  stalled: { type: 'stalled', error: 'No word from node mac-1 for 120 s' },
  exhausted: { type: 'exhausted', error: 'gave up' },
  'cancel, agent reachable': { type: 'cancel', reason: 'Cancelled by admin@example.com', agentReachable: true },
  'cancel, node revoked': { type: 'cancel', reason: 'the node was revoked', agentReachable: false },
  'cancelled (the agent confirms)': { type: 'cancelled' },
  'reconnected, still running it': { type: 'reconnected', running: true },
  'reconnected, without it': { type: 'reconnected', running: false },
};

const states = ['queued', 'dispatched', 'pulling', 'cancelling', 'done', 'failed', 'cancelled'] as const;
const _ = null; // refused

/** Where each event leads from each state (columns in the order of `states`). */
const expected: Record<keyof typeof events, (SyncJobState | null)[]> = {
  dispatch: ['dispatched', _, _, _, _, _, _],
  progress: ['pulling', 'pulling', 'pulling', 'cancelling', _, _, _],
  done: ['done', 'done', 'done', 'done', _, _, _],
  'failed, retryable': ['queued', 'queued', 'queued', 'cancelled', _, _, _],
  'failed for good': ['failed', 'failed', 'failed', 'cancelled', _, _, _],
  stalled: [_, 'queued', 'queued', 'cancelled', _, _, _],
  exhausted: ['failed', 'failed', 'failed', 'cancelled', _, _, _],
  'cancel, agent reachable': ['cancelled', 'cancelling', 'cancelling', _, _, _, _],
  'cancel, node revoked': ['cancelled', 'cancelled', 'cancelled', 'cancelled', _, _, _],
  'cancelled (the agent confirms)': [_, _, _, 'cancelled', _, _, _],
  'reconnected, still running it': ['pulling', 'pulling', 'pulling', 'cancelling', _, _, _],
  'reconnected, without it': ['queued', 'queued', 'queued', 'cancelled', _, _, _],
};

const now = new Date('2026-11-27T10:00:00Z');
const started = new Date('2026-11-27T09:00:00Z');
const job = (state: SyncJobState, extra: Partial<JobFacts> = {}): JobFacts => ({ state, attempts: 1, error: null, startedAt: started, bytesTotal: 100n, ...extra });

describe('the sync job lifecycle table', () => {
  it('knows every state the database has, and which are open', () => {
    expect([...syncJobStates].sort()).toEqual(Object.values(SyncJobState).sort());
    expect(syncJobStates.filter(isOpen)).toEqual([...openStates]);
    expect(openStates).toEqual(['queued', 'dispatched', 'pulling', 'cancelling']);
  });

  for (const [name, event] of Object.entries(events)) {
    it.each(states.map((state, i) => [state, expected[name]![i]!] as const))(`${name}: from %s to %s`, (state, to) => {
      const decision = transition(job(state), event, now);
      if (to === null) {
        expect(decision).toEqual({ ok: false, reason: `a ${state} sync job does not take ${event.type}` });
      } else {
        expect(decision).toMatchObject({ ok: true, to });
      }
    });
  }

  it('leaves a finished job as it is, whatever happens', () => {
    for (const state of ['done', 'failed', 'cancelled'] as const) {
      for (const event of Object.values(events)) expect(transition(job(state), event, now).ok).toBe(false);
    }
  });
});

describe('what a transition changes and makes happen', () => {
  it('dispatch counts the attempt, keeps the first start and clears the last error', () => {
    expect(transition(job('queued', { error: 'registry answered 503' }), events.dispatch!, now)).toEqual({
      ok: true,
      to: 'dispatched',
      data: { attempts: 2, startedAt: started, error: null },
      effects: [],
    });
    expect(transition(job('queued', { startedAt: null, attempts: 0 }), { type: 'dispatch', attempt: 1 }, now)).toMatchObject({ data: { startedAt: now, attempts: 1 } });
  });

  it('progress stores the bytes and restarts the stall timer; while cancelling it changes nothing', () => {
    expect(transition(job('dispatched'), events.progress!, now)).toEqual({ ok: true, to: 'pulling', data: { bytesDone: 10n, bytesTotal: 100n }, effects: [], outcome: 'progressed' });
    expect(transition(job('cancelling'), events.progress!, now)).toEqual({ ok: true, to: 'cancelling', data: {}, effects: [] });
  });

  it('done fills in the bytes (the total of the report, else the last known), clears the error and tells the dispatcher', () => {
    expect(transition(job('pulling', { error: 'old' }), { type: 'done', bytesTotal: 4096n }, now)).toEqual({
      ok: true,
      to: 'done',
      data: { error: null, finishedAt: now, bytesDone: 4096n, bytesTotal: 4096n },
      effects: [],
      outcome: 'done',
    });
    expect(transition(job('pulling'), events.done!, now)).toMatchObject({ data: { bytesDone: 100n, bytesTotal: 100n } });
    expect(transition(job('queued', { bytesTotal: null }), events.done!, now)).toMatchObject({ data: { error: null, finishedAt: now } });
    expect((transition(job('queued', { bytesTotal: 0n }), events.done!, now) as { data: object }).data).not.toHaveProperty('bytesDone');
  });

  it("done keeps the agent's bytes by source; a done job takes them once more if reconcile beat the report to it", () => {
    const sources = { registry: 1000, mirror: 24, peers: { 'node-a': 3000, 'node-b': 72 } };
    const bySource = { bytesFromRegistry: 1000n, bytesFromMirror: 24n, bytesFromPeers: 3072n, peerSources: { 'node-a': 3000, 'node-b': 72 } };
    expect(transition(job('pulling'), { type: 'done', bytesTotal: 4096n, sources }, now)).toEqual({
      ok: true,
      to: 'done',
      data: { error: null, finishedAt: now, bytesDone: 4096n, bytesTotal: 4096n, ...bySource },
      effects: [],
      outcome: 'done',
    });
    expect(transition(job('done', { bytesFromRegistry: null }), { type: 'done', sources }, now)).toEqual({ ok: true, to: 'done', data: bySource, effects: [] });
    expect(transition(job('done', { bytesFromRegistry: 5n }), { type: 'done', sources }, now).ok).toBe(false);
    expect(transition(job('failed'), { type: 'done', sources }, now).ok).toBe(false);
  });

  it('a failed attempt is queued again with its error (retry) or fails for good; the queue giving up keeps the last error', () => {
    expect(transition(job('pulling'), events['failed, retryable']!, now)).toEqual({ ok: true, to: 'queued', data: { error: 'registry answered 503' }, effects: [], outcome: 'retry' });
    expect(transition(job('pulling'), events['failed for good']!, now)).toEqual({ ok: true, to: 'failed', data: { error: 'no such image', finishedAt: now }, effects: [], outcome: 'failed' });
    expect(transition(job('queued', { error: 'registry answered 503' }), events.exhausted!, now)).toMatchObject({ to: 'failed', data: { error: 'registry answered 503' } });
    expect(transition(job('queued'), events.exhausted!, now)).toMatchObject({ to: 'failed', data: { error: 'gave up' } });
    expect(transition(job('dispatched'), events.stalled!, now)).toEqual({ ok: true, to: 'queued', data: { error: 'No word from node mac-1 for 120 s' }, effects: [], outcome: 'retry' });
  });

  it('a cancel tells the agent while it may be running the job, and waits for its word', () => {
    const reason = 'Cancelled by admin@example.com';
    expect(transition(job('pulling'), events['cancel, agent reachable']!, now)).toEqual({
      ok: true,
      to: 'cancelling',
      data: { error: reason },
      effects: ['tell-agent-cancel', 'drop-queue-entry', 'audit-cancel'],
      outcome: 'cancelling',
    });
    // Never dispatched: nothing runs on the Mac, so nobody is told and nothing waits.
    expect(transition(job('queued', { attempts: 0 }), events['cancel, agent reachable']!, now)).toEqual({
      ok: true,
      to: 'cancelled',
      data: { error: reason, finishedAt: now },
      effects: ['drop-queue-entry', 'audit-cancel'],
      outcome: 'cancelled',
    });
    // Queued again after a stalled attempt: the agent may still be on it, so it is told too.
    expect(transition(job('queued', { attempts: 1 }), events['cancel, agent reachable']!, now)).toMatchObject({ to: 'cancelled', effects: ['tell-agent-cancel', 'drop-queue-entry', 'audit-cancel'] });
    // A revoked node never confirms: cancelled at once, and nobody to tell.
    expect(transition(job('pulling'), events['cancel, node revoked']!, now)).toMatchObject({ to: 'cancelled', effects: ['drop-queue-entry', 'audit-cancel'], outcome: 'cancelled' });
    // The confirmation ends it, keeping the reason as the job's words.
    expect(transition(job('cancelling', { error: reason }), events['cancelled (the agent confirms)']!, now)).toEqual({ ok: true, to: 'cancelled', data: { finishedAt: now }, effects: [], outcome: 'cancelled' });
  });

  it('a reconnect adopts what the agent still runs and requeues what it lost, without spending an attempt', () => {
    expect(transition(job('pulling'), events['reconnected, still running it']!, now)).toEqual({ ok: true, to: 'pulling', data: {}, effects: [] });
    expect(transition(job('dispatched'), events['reconnected, still running it']!, now)).toEqual({ ok: true, to: 'pulling', data: {}, effects: [], outcome: 'progressed' });
    expect(transition(job('pulling', { attempts: 3 }), events['reconnected, without it']!, now)).toEqual({ ok: true, to: 'queued', data: {}, effects: [], outcome: 'requeued' });
    expect(transition(job('queued'), events['reconnected, without it']!, now)).toEqual({ ok: true, to: 'queued', data: {}, effects: [] });
    expect(transition(job('cancelling'), events['reconnected, without it']!, now)).toMatchObject({ to: 'cancelled', outcome: 'cancelled' });
  });
});
