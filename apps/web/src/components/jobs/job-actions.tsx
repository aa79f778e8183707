'use client';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useTRPC } from '../../trpc/react.ts';
import type { Job } from './job-state.tsx';
import { unfinished } from './job-state.tsx';

export interface JobActionResult {
  kind: 'ok' | 'error';
  message: string;
}

/** Admin-only: retry a failed job (through reconcile) or cancel an unfinished one (one being cancelled waits for its node). */
export function JobActions({ job, onResult }: { job: Job; onResult: (result: JobActionResult) => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const refresh = () => queryClient.invalidateQueries();
  const fail = (error: { message: string }) => onResult({ kind: 'error', message: error.message || 'The server could not do this.' });
  const retry = useMutation(
    trpc.jobs.retry.mutationOptions({
      onSuccess: (result) => {
        onResult({ kind: 'ok', message: result.message });
        void refresh();
      },
      onError: fail,
    }),
  );
  const cancel = useMutation(
    trpc.jobs.cancel.mutationOptions({
      onSuccess: (result) => {
        onResult({ kind: 'ok', message: result.message });
        void refresh();
      },
      onError: fail,
    }),
  );
  if (job.state === 'failed') {
    return (
      <button type="button" className="button button-small" aria-label={`Retry sync of ${job.reference} on ${job.node.name}`} disabled={retry.isPending} onClick={() => retry.mutate({ jobId: job.id })}>
        {retry.isPending ? 'Retrying…' : 'Retry'}
      </button>
    );
  }
  if (job.state === 'cancelling') {
    return (
      <button type="button" className="button button-small" aria-label={`Sync of ${job.reference} on ${job.node.name} is being cancelled`} disabled>
        Cancelling…
      </button>
    );
  }
  if (unfinished.has(job.state)) {
    return (
      <button type="button" className="button button-small" aria-label={`Cancel sync of ${job.reference} on ${job.node.name}`} disabled={cancel.isPending} onClick={() => cancel.mutate({ jobId: job.id })}>
        {cancel.isPending ? 'Cancelling…' : 'Cancel'}
      </button>
    );
  }
  return null;
}
