'use client';
// The one subscription to fleet events for the signed-in app. Events only name what changed:
// progress reports patch the live progress store; anything else refetches the open (active)
// queries, throttled (refresh-throttle.ts) so a lone change shows within a moment while a storm of
// events (a rollout to a thousand nodes) costs at most one round of requests every few seconds.
import type { FleetEvent } from '@cider/api/services';
import { useQueryClient } from '@tanstack/react-query';
import { useSubscription } from '@trpc/tanstack-react-query';
import { useCallback, useEffect, useRef } from 'react';
import { useTRPC } from '../trpc/react.ts';
import { clearProgress, reportProgress } from './progress.ts';
import { RefreshThrottle } from './refresh-throttle.ts';
import { clearTaskProgress, reportTaskProgress } from './task-progress.ts';

const finishedStates = new Set(['done', 'failed', 'cancelled']);

/** The node a `nodes.get` query is about (tRPC keys are [path, { input, type }]). */
function nodeIdOf(queryKey: readonly unknown[]): string {
  const input = (queryKey[1] as { input?: { nodeId?: unknown } } | undefined)?.input;
  return typeof input?.nodeId === 'string' ? input.nodeId : '';
}

export function LiveEvents() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  // What the next refresh covers: everything, or only the queries about nodes.
  const scope = useRef<'all' | 'nodes' | undefined>(undefined);
  // The nodes whose node.updated the next refresh answers: a node's own page refetches only for them.
  const changedNodes = useRef(new Set<string>());
  const throttle = useRef<RefreshThrottle | undefined>(undefined);

  const refresh = useCallback(() => {
    const covered = scope.current;
    const changed = changedNodes.current;
    scope.current = undefined;
    changedNodes.current = new Set();
    // invalidateQueries refetches only the queries some mounted component uses; others refetch when next shown.
    if (covered === 'all') {
      void queryClient.invalidateQueries();
      return;
    }
    // Heartbeats change node state and facts: not images, audit or settings (which would
    // otherwise be refetched, and ask the registry, every few seconds per node).
    // (Not nodes.search: a node's name does not change with its state.)
    for (const key of [trpc.nodes.page.pathKey(), trpc.fleet.pathKey(), trpc.projects.rollout.pathKey()]) {
      void queryClient.invalidateQueries({ queryKey: key });
    }
    void queryClient.invalidateQueries({ queryKey: trpc.nodes.get.pathKey(), predicate: (query) => changed.has(nodeIdOf(query.queryKey)) });
  }, [queryClient, trpc]);

  const refreshSoon = useCallback(
    (what: 'all' | 'nodes' = 'all') => {
      scope.current = scope.current === 'all' || what === 'all' ? 'all' : 'nodes';
      throttle.current?.request();
    },
    [],
  );

  useEffect(() => {
    const current = new RefreshThrottle(refresh);
    throttle.current = current;
    return () => current.cancel();
  }, [refresh]);

  const onData = useCallback(
    (event: FleetEvent) => {
      if (event.type === 'sync.progress') {
        reportProgress(event);
        return;
      }
      if (event.type === 'task.progress') {
        reportTaskProgress(event);
        return;
      }
      if (event.type === 'task.updated' && event.state !== 'queued' && event.state !== 'running') clearTaskProgress(event.taskId);
      if (event.type === 'sync.updated' && finishedStates.has(event.state)) clearProgress(event.nodeId, event.digest);
      if (event.type === 'node.updated') changedNodes.current.add(event.nodeId);
      refreshSoon(event.type === 'node.updated' ? 'nodes' : 'all');
    },
    [refreshSoon],
  );

  // (Re)connecting may have missed events, so a fresh stream starts with a refresh.
  const subscription = useSubscription(trpc.events.stream.subscriptionOptions(undefined, { onStarted: () => refreshSoon('all'), onData }));

  // A stream refused outright (say a 503 while PostgreSQL is down) is not retried by the browser's
  // EventSource: start a new one after a pause, until one gets through.
  const { status, reset } = subscription;
  useEffect(() => {
    if (status !== 'error') return;
    const timer = setTimeout(reset, 5_000);
    return () => clearTimeout(timer);
  }, [status, reset]);

  const live = status === 'pending';
  return (
    <span className={live ? 'live live-on' : 'live live-off'} title={live ? 'Receiving live updates' : 'Reconnecting to live updates'}>
      <span className="live-dot" aria-hidden="true" />
      {live ? 'Live' : 'Reconnecting…'}
    </span>
  );
}
