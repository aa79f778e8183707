// Progress is published on every agent report (for live bars) but stored at most every couple
// of seconds per job. Entries go when a job ends and, as a bound, when the map grows large.
const lastStored = new Map<string, number>();
const limit = 10_000;
const intervalMs = 2_000;

export function shouldStoreProgress(jobId: string, now = Date.now()): boolean {
  if (now - (lastStored.get(jobId) ?? 0) < intervalMs) return false;
  if (lastStored.size >= limit) lastStored.clear();
  lastStored.set(jobId, now);
  return true;
}

export function forgetProgress(jobId: string): void {
  lastStored.delete(jobId);
}
