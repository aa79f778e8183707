'use client';
// A project's pins as an offline bundle (one OCI image layout as a tar, `cider bundle import`
// reads it): downloaded through the browser, streamed from the registry as it goes, or written
// by the control plane to a path inside CIDER_BUNDLE_DIR. Admins only.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useId, useState, type FormEvent } from 'react';
import { useTRPC } from '../../trpc/react.ts';
import { TasksPanel } from '../tasks/tasks-panel.tsx';
import { FormFooter } from '../ui/form-footer.tsx';

export function ProjectBundle({ project }: { project: { id: string; name: string; pins: unknown[] } }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const id = useId();
  const options = useQuery(trpc.tasks.bundleOptions.queryOptions({ projectName: project.name }));
  const [path, setPath] = useState<string>();
  const [status, setStatus] = useState<string | null>(null);
  const write = useMutation(trpc.tasks.exportBundle.mutationOptions());
  const bundleDir = options.data?.bundleDir ?? null;
  const suggested = bundleDir && options.data ? `${bundleDir.replace(/\/+$/, '')}/${options.data.suggestedName}` : '';
  const target = path ?? suggested;
  const hasPins = project.pins.length > 0;

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setStatus(null);
    write.mutate(
      { projectId: project.id, path: target },
      {
        onSuccess(task) {
          setStatus(`Started: ${task.title}.`);
          setPath(undefined);
          void queryClient.invalidateQueries({ queryKey: trpc.tasks.pathKey() });
        },
      },
    );
  }

  return (
    <>
      <section className="card" aria-labelledby={`${id}-title`}>
        <h2 id={`${id}-title`}>Offline bundle</h2>
        <p className="muted small">
          Every pinned image (by digest, named by its tag) with its signatures and SBOMs, as one OCI image layout in a tar. Carry it to an air-gapped site and run{' '}
          <code>cider bundle import &lt;file&gt; &lt;registry&gt;</code> there.
        </p>
        {!hasPins ? (
          <p className="muted">Pin an image first.</p>
        ) : (
          <>
            <p>
              <a className="button" href={`/api/bundles/projects/${project.id}`} download data-testid="bundle-download">
                Download bundle
              </a>
            </p>
            {options.data && !bundleDir ? (
              <p className="muted small">Writing bundles on the server is off: set CIDER_BUNDLE_DIR (an absolute directory) for the web and control processes to enable it.</p>
            ) : null}
            {bundleDir ? (
              <form className="form" onSubmit={submit} aria-label="Write the bundle to a server path">
                <label className="field">
                  <span className="field-label">Write to server path</span>
                  <input required value={target} onChange={(e) => setPath(e.target.value)} spellCheck={false} autoCapitalize="off" aria-describedby={`${id}-path-hint`} />
                </label>
                <p className="hint" id={`${id}-path-hint`}>
                  Inside <code>{bundleDir}</code>; an existing file is never overwritten.
                </p>
                <FormFooter error={write.error} status={status} submit={{ label: 'Write bundle', pendingLabel: 'Starting…', pending: write.isPending, disabled: !target }} />
              </form>
            ) : null}
          </>
        )}
      </section>
      {bundleDir ? <TasksPanel kind="bundle-export" projectId={project.id} title="Bundle exports" /> : null}
    </>
  );
}
