// Live server-task progress from `task.progress` events, kept outside React Query (as sync
// progress is, ./progress.ts) so a task's bar moves on every report without refetching the list.
import type { FleetEvent } from '@cider/api/services';
import { useSyncExternalStore } from 'react';

type TaskProgressEvent = Extract<FleetEvent, { type: 'task.progress' }>;
export type LiveTaskProgress = Omit<TaskProgressEvent, 'type' | 'taskId'>;

const empty: ReadonlyMap<string, LiveTaskProgress> = new Map();
let snapshot: ReadonlyMap<string, LiveTaskProgress> = empty;
const listeners = new Set<() => void>();

function replace(next: ReadonlyMap<string, LiveTaskProgress>): void {
  snapshot = next;
  for (const listener of listeners) listener();
}

export function reportTaskProgress(event: TaskProgressEvent): void {
  const next = new Map(snapshot);
  next.set(event.taskId, { bytesDone: event.bytesDone, bytesTotal: event.bytesTotal, message: event.message });
  replace(next);
}

/** A task that ended shows its row's figures; its live bar goes. */
export function clearTaskProgress(taskId: string): void {
  if (!snapshot.has(taskId)) return;
  const next = new Map(snapshot);
  next.delete(taskId);
  replace(next);
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function useLiveTaskProgress(): ReadonlyMap<string, LiveTaskProgress> {
  return useSyncExternalStore(
    subscribe,
    () => snapshot,
    () => empty,
  );
}
