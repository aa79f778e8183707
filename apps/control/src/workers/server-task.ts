// Runs server tasks (services/tasks): "Publish from Apple" and bundle exports to a server path.
// Each runs until it ends or this process stops; stopping fails the tasks it runs as interrupted
// (an admin starts them again) rather than leaving them running, and a sweep fails those of a
// process that died without stopping (their rows stop moving).
import { runServerTask, sweepTasks, type JobPayload, type ServiceDeps } from '@cider/api/services';
import type { Logger } from 'pino';

export interface ServerTaskProcessor {
  process(payload: JobPayload<'server-task'>): Promise<unknown>;
  /** Fails the tasks this process runs as interrupted and waits (bounded) for their rows to say so. */
  interruptAll(timeoutMs?: number): Promise<void>;
  /** Fails stale running tasks and re-queues queued ones whose job was lost. */
  sweep(): Promise<void>;
}

export function createServerTaskProcessor(deps: ServiceDeps, log: Logger, options: { tickMs?: number } = {}): ServerTaskProcessor {
  const shutdown = new AbortController();
  const running = new Set<Promise<unknown>>();
  return {
    async process(payload) {
      if (shutdown.signal.aborted) throw new Error('the control plane is stopping');
      const run = runServerTask(deps, payload.taskId, { shutdown: shutdown.signal, ...(options.tickMs ? { tickMs: options.tickMs } : {}) });
      running.add(run);
      try {
        const state = await run;
        log.info({ task: payload.taskId, state }, 'server task ended');
        return { state };
      } finally {
        running.delete(run);
      }
    },
    async interruptAll(timeoutMs = 10_000) {
      shutdown.abort();
      if (running.size === 0) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...running]), new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
      clearTimeout(timer);
    },
    async sweep() {
      const { interrupted, requeued } = await sweepTasks(deps);
      if (interrupted.length > 0) log.warn({ tasks: interrupted }, 'server tasks whose control process went away were marked failed (interrupted)');
      if (requeued > 0) log.info({ requeued }, 'queued server tasks queued again');
    },
  };
}
