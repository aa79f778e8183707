// Jobs the control plane cancelled. A cancelled pull is aborted with a JobCancelled reason, so the
// agent confirms the cancel (`sync.cancelled`) instead of reporting a failure; its verified partial
// data stays in ingest/ for a later resume. Recent cancels are remembered (a bounded few), because
// a `cancel` and its job's `sync` can cross on their way here: a sync already cancelled never starts.
export class JobCancelled extends Error {
  constructor(reason: string) {
    super(`cancelled: ${reason}`);
    this.name = 'JobCancelled';
  }
}

export function cancelledBy(signal: AbortSignal): boolean {
  return signal.aborted && signal.reason instanceof JobCancelled;
}

export class RecentCancels {
  private readonly ids = new Set<string>();

  constructor(private readonly limit = 256) {}

  remember(jobId: string): void {
    this.ids.delete(jobId);
    this.ids.add(jobId);
    // A Set keeps insertion order: the oldest goes first.
    if (this.ids.size > this.limit) this.ids.delete(this.ids.values().next().value!);
  }

  has(jobId: string): boolean {
    return this.ids.has(jobId);
  }
}
