// Live sync progress from `sync.progress` events, kept outside React Query so progress bars move
// on every report without refetching the rollout. Keyed by node and digest: a rollout cell
// knows both even before its refetch has seen the newest sync job id.
import type { FleetEvent } from '@cider/api/services';
import { useSyncExternalStore } from 'react';

export interface LiveProgress {
  syncJobId: string;
  phase: string;
  bytesDone: number;
  bytesTotal: number;
}

type ProgressEvent = Extract<FleetEvent, { type: 'sync.progress' }>;

const empty: ReadonlyMap<string, LiveProgress> = new Map();
let snapshot: ReadonlyMap<string, LiveProgress> = empty;
const listeners = new Set<() => void>();

export function progressKey(nodeId: string, digest: string): string {
  return `${nodeId} ${digest}`;
}

function replace(next: ReadonlyMap<string, LiveProgress>): void {
  snapshot = next;
  for (const listener of listeners) listener();
}

export function reportProgress(event: ProgressEvent): void {
  const next = new Map(snapshot);
  next.set(progressKey(event.nodeId, event.digest), {
    syncJobId: event.syncJobId,
    phase: event.phase,
    bytesDone: event.bytesDone,
    bytesTotal: event.bytesTotal,
  });
  replace(next);
}

/** A finished job's bar is gone; the rollout's refetch shows the outcome. */
export function clearProgress(nodeId: string, digest: string): void {
  const key = progressKey(nodeId, digest);
  if (!snapshot.has(key)) return;
  const next = new Map(snapshot);
  next.delete(key);
  replace(next);
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function useLiveProgress(): ReadonlyMap<string, LiveProgress> {
  return useSyncExternalStore(
    subscribe,
    () => snapshot,
    () => empty,
  );
}
