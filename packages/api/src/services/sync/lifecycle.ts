// The sync job's lifecycle as one table: for each event and the state a job is in, the state it
// goes to, what changes on its row, what else must happen (tell the agent, drop the queue entry,
// audit) and what its dispatcher hears. An event with no entry for the job's state is refused.
// Pure: no database, no Redis; transitions.ts applies a decision. docs/sync-lifecycle.md draws it.
import type { SyncJobState } from '@cider/db';
import type { PiecesProgress } from '@cider/protocol';

export const syncJobStates = ['queued', 'dispatched', 'pulling', 'cancelling', 'done', 'failed', 'cancelled'] as const satisfies readonly SyncJobState[];
/** Compile-time check that the list above names every state the database knows. */
type Unlisted = Exclude<SyncJobState, (typeof syncJobStates)[number]>;
const _everyStateListed: [Unlisted] extends [never] ? true : Unlisted = true;

/** States a job can still leave: it may have bytes moving or be waiting for them. */
export const openStates = ['queued', 'dispatched', 'pulling', 'cancelling'] as const satisfies readonly SyncJobState[];
export type OpenState = (typeof openStates)[number];

export function isOpen(state: SyncJobState): state is OpenState {
  return (openStates as readonly SyncJobState[]).includes(state);
}

export type SyncEvent =
  /** The dispatcher sends the job to the node's agent (attempt N). */
  | { type: 'dispatch'; attempt: number }
  /** The agent reports bytes (or that it is on the job). */
  | { type: 'progress'; bytesDone: number; bytesTotal: number; pieces?: PiecesProgress }
  /** The node holds the digest: the agent's `sync.done` (with the bytes it took from each source), or the digest seen in its inventory. */
  | { type: 'done'; bytesTotal?: bigint; sources?: BytesBySource }
  /** The agent's `sync.failed`, or the dispatcher finding the job cannot run (registry gone). */
  | { type: 'failed'; error: string; retryable: boolean }
  /** The dispatcher heard nothing from the agent for the stall timeout. */
  | { type: 'stalled'; error: string }
  /** The queue gave up: the last attempt failed. */
  | { type: 'exhausted'; error: string }
  /** An admin, or reconcile (no pin wants it), or a revocation. `agentReachable`: the node may still connect (not revoked or removed). */
  | { type: 'cancel'; reason: string; agentReachable: boolean }
  /** The agent confirms a cancel: it stopped, its verified partial data kept. */
  | { type: 'cancelled' }
  /** The node's agent said hello again; `running`: the job is among the ones it still works on. */
  | { type: 'reconnected'; running: boolean };
export type SyncEventType = SyncEvent['type'];

/** Bytes a pull took from the registry, a mirror, and each peer by node id (the protocol's sync.done `sources`). */
export interface BytesBySource {
  registry: number;
  mirror: number;
  peers: Record<string, number>;
}

/** What else applying a transition must do besides writing the row. */
export type SyncEffect = 'tell-agent-cancel' | 'drop-queue-entry' | 'audit-cancel';

/** What the job's dispatcher hears (transitions.ts publishes it on the sync outcomes channel). */
export type OutcomeKind = 'progressed' | 'done' | 'retry' | 'failed' | 'cancelling' | 'cancelled' | 'requeued';

/** What the table looks at besides the state. */
export interface JobFacts {
  state: SyncJobState;
  attempts: number;
  error: string | null;
  startedAt: Date | null;
  bytesTotal: bigint | null;
  /** Set once the agent said where the bytes came from. */
  bytesFromRegistry?: bigint | null;
}

export interface RowChanges {
  attempts?: number;
  error?: string | null;
  startedAt?: Date;
  finishedAt?: Date;
  bytesDone?: bigint;
  bytesTotal?: bigint;
  bytesFromRegistry?: bigint;
  bytesFromMirror?: bigint;
  bytesFromPeers?: bigint;
  /** Node id -> bytes, for the rollout view's "who fed whom". */
  peerSources?: Record<string, number>;
  /** Which pieces of the layer being fetched the agent has verified (the tracker's "roughly which pieces"). */
  pieces?: PiecesProgress;
}

export interface Transition {
  to: SyncJobState;
  data: RowChanges;
  effects: SyncEffect[];
  outcome?: OutcomeKind;
}

export type Decision = ({ ok: true } & Transition) | { ok: false; reason: string };

/** null: refused for this event's particulars (the table's empty cells refuse whatever the particulars). */
type Rule<E extends SyncEvent> = (event: E, job: JobFacts, now: Date) => Transition | null;
type Table = { [T in SyncEventType]: Partial<Record<SyncJobState, Rule<Extract<SyncEvent, { type: T }>>>> };

const to = (state: SyncJobState, data: RowChanges = {}, effects: SyncEffect[] = [], outcome?: OutcomeKind): Transition => ({ to: state, data, effects, ...(outcome ? { outcome } : {}) });

/** Accepted, nothing changes. */
const stay: Rule<SyncEvent> = (_event, job) => to(job.state);
const pulling: Rule<Extract<SyncEvent, { type: 'progress' }>> = (event) =>
  to('pulling', { bytesDone: BigInt(event.bytesDone), bytesTotal: BigInt(event.bytesTotal), ...(event.pieces ? { pieces: event.pieces } : {}) }, [], 'progressed');
const done: Rule<Extract<SyncEvent, { type: 'done' }>> = (event, job, now) => {
  // The agent's first report says "0 of 0": the image's size, or the last known total, is the better figure.
  const total = event.bytesTotal ?? (job.bytesTotal !== null && job.bytesTotal > 0n ? job.bytesTotal : undefined);
  return to('done', { error: null, finishedAt: now, ...(total !== undefined ? { bytesDone: total, bytesTotal: total } : {}), ...(event.sources ? bySource(event.sources) : {}) }, [], 'done');
};
const bySource = ({ registry, mirror, peers }: BytesBySource): RowChanges => ({
  bytesFromRegistry: BigInt(registry),
  bytesFromMirror: BigInt(mirror),
  bytesFromPeers: Object.values(peers).reduce((sum, bytes) => sum + BigInt(bytes), 0n),
  peerSources: { ...peers },
});
const failedOrRetried: Rule<Extract<SyncEvent, { type: 'failed' }>> = (event, _job, now) =>
  event.retryable ? to('queued', { error: event.error }, [], 'retry') : to('failed', { error: event.error, finishedAt: now }, [], 'failed');
/** The cancel is over: confirmed by the agent, or moot (it stopped, failed, went silent, or restarted without the job). */
const confirmed: Rule<SyncEvent> = (_event, _job, now) => to('cancelled', { finishedAt: now }, [], 'cancelled');
const cancelNow: Rule<Extract<SyncEvent, { type: 'cancel' }>> = (event, job, now) =>
  // A queued job that was dispatched before (its attempt stalled) may still be running on the Mac.
  to('cancelled', { error: event.reason, finishedAt: now }, job.attempts > 0 && event.agentReachable ? ['tell-agent-cancel', 'drop-queue-entry', 'audit-cancel'] : ['drop-queue-entry', 'audit-cancel'], 'cancelled');
const cancelOnAgent: Rule<Extract<SyncEvent, { type: 'cancel' }>> = (event, job, now) =>
  event.agentReachable ? to('cancelling', { error: event.reason }, ['tell-agent-cancel', 'drop-queue-entry', 'audit-cancel'], 'cancelling') : cancelNow(event, { ...job, attempts: 0 }, now);
const reconnected: Rule<Extract<SyncEvent, { type: 'reconnected' }>> = (event, job) =>
  // Still running on the Mac: not dispatched again. Gone from it (the agent restarted): dispatched again, no attempt spent.
  event.running ? to('pulling', {}, [], job.state === 'pulling' ? undefined : 'progressed') : to('queued', {}, [], 'requeued');

const table: Table = {
  dispatch: { queued: (event, job, now) => to('dispatched', { attempts: event.attempt, startedAt: job.startedAt ?? now, error: null }) },
  // A queued job whose agent reports bytes is running there (its last attempt stalled, the agent went on): adopted.
  progress: { queued: pulling, dispatched: pulling, pulling, cancelling: stay },
  // The node holds the digest: done, even if a cancel was on its way. An agent's sync.done that
  // reconcile beat to it (it saw the image in the inventory first) still leaves its byte counts.
  done: {
    queued: done,
    dispatched: done,
    pulling: done,
    cancelling: done,
    done: (event, job) => (event.sources && (job.bytesFromRegistry ?? null) === null ? to('done', bySource(event.sources)) : null),
  },
  // An agent from before the cancel confirmation reports the aborted pull as a failure.
  failed: { queued: failedOrRetried, dispatched: failedOrRetried, pulling: failedOrRetried, cancelling: confirmed },
  stalled: { dispatched: (event) => to('queued', { error: event.error }, [], 'retry'), pulling: (event) => to('queued', { error: event.error }, [], 'retry'), cancelling: confirmed },
  exhausted: {
    queued: (event, job, now) => to('failed', { error: job.error ?? event.error, finishedAt: now }, [], 'failed'),
    dispatched: (event, job, now) => to('failed', { error: job.error ?? event.error, finishedAt: now }, [], 'failed'),
    pulling: (event, job, now) => to('failed', { error: job.error ?? event.error, finishedAt: now }, [], 'failed'),
    cancelling: confirmed,
  },
  // Asked again while cancelling: refused, the agent was told; but a revoked node will never confirm.
  cancel: { queued: cancelNow, dispatched: cancelOnAgent, pulling: cancelOnAgent, cancelling: (event, job, now) => (event.agentReachable ? null : confirmed(event, job, now)) },
  cancelled: { cancelling: confirmed },
  reconnected: {
    queued: (event, job, now) => (event.running ? reconnected(event, job, now) : to('queued')),
    dispatched: reconnected,
    pulling: reconnected,
    // Still running: it stays cancelling and the welcome tells the agent to drop it. Not running: nothing left to stop.
    cancelling: (event, job, now) => (event.running ? to('cancelling') : confirmed(event, job, now)),
  },
};

/** The one decision: what `event` does to a job in its current state. */
export function transition(job: JobFacts, event: SyncEvent, now = new Date()): Decision {
  const rule = table[event.type][job.state] as Rule<SyncEvent> | undefined;
  const decided = rule?.(event, job, now);
  if (!decided) return { ok: false, reason: `a ${job.state} sync job does not take ${event.type}` };
  return { ok: true, ...decided };
}
