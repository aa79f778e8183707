'use client';
// "Pin to project…" on a tag's page: the reference is already known, so the admin only chooses a
// project (the ones they may change), follow or freeze, and confirms, in a modal dialog.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { useId, useRef, useState, type FormEvent } from 'react';
import { canEditTeam } from '@cider/api/permissions';
import { useTRPC } from '../../trpc/react.ts';
import { PinModeField, type PinMode } from '../project/pin-mode-field.tsx';
import { useSessionUser } from '../shell/session-user.tsx';
import { FormFooter } from '../ui/form-footer.tsx';

export function PinToProject({ reference }: { reference: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const user = useSessionUser();
  const id = useId();
  const dialog = useRef<HTMLDialogElement>(null);
  const [open, setOpen] = useState(false);
  const projects = useQuery(trpc.projects.list.queryOptions(undefined, { enabled: open }));
  const mine = projects.data?.filter((p) => canEditTeam(user, p.team.id)) ?? [];
  const [chosen, setChosen] = useState('');
  const [mode, setMode] = useState<PinMode>('follow');
  const [done, setDone] = useState<{ message: string; projectId: string; projectName: string }>();
  const pin = useMutation(trpc.pins.set.mutationOptions());
  const projectId = chosen || mine[0]?.id || '';

  function show() {
    setOpen(true);
    setDone(undefined);
    pin.reset();
    dialog.current?.showModal();
  }
  function close() {
    dialog.current?.close();
  }
  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const project = mine.find((p) => p.id === projectId);
    if (!project) return;
    pin.mutate(
      { projectId: project.id, reference, mode },
      {
        onSuccess(saved) {
          setDone({ message: saved.message, projectId: project.id, projectName: project.name });
          void queryClient.invalidateQueries({ queryKey: trpc.projects.pathKey() });
          void queryClient.invalidateQueries({ queryKey: trpc.images.detail.pathKey() });
        },
      },
    );
  }

  return (
    <>
      <button type="button" className="button" onClick={show}>
        Pin to project…
      </button>
      <dialog ref={dialog} className="pin-dialog" aria-labelledby={`${id}-title`} onClose={() => setOpen(false)}>
        <form className="form" aria-labelledby={`${id}-title`} onSubmit={submit}>
          <h2 id={`${id}-title`}>Pin to project</h2>
          <p className="muted">
            <code className="nowrap-token">{reference}</code>
          </p>
          {done ? (
            <>
              <p className="alert alert-ok" role="status">
                {done.message}
              </p>
              <div className="form-actions">
                <Link className="button button-primary" href={`/projects/${done.projectId}`}>
                  Open {done.projectName}
                </Link>
                <button type="button" className="button button-quiet" onClick={close}>
                  Close
                </button>
              </div>
            </>
          ) : projects.data && mine.length === 0 ? (
            <>
              <p className="muted">You can change no project&apos;s pins: admins and members of a project&apos;s team can.</p>
              <div className="form-actions">
                <button type="button" className="button" onClick={close}>
                  Close
                </button>
              </div>
            </>
          ) : (
            <>
              <label className="field">
                <span className="field-label">Project</span>
                <select required value={projectId} onChange={(e) => setChosen(e.target.value)}>
                  {projects.isPending ? <option value="">Loading…</option> : null}
                  {mine.map((p) => (
                    <option key={p.id} value={p.id}>
                      {p.name} (team {p.team.name}, {p.nodeSelector || 'all nodes'})
                    </option>
                  ))}
                </select>
              </label>
              <PinModeField value={mode} onChange={setMode} />
              <FormFooter
                error={pin.error ?? projects.error}
                submit={{ label: 'Pin', pendingLabel: 'Resolving…', pending: pin.isPending, disabled: !projectId }}
                after={
                  <button type="button" className="button button-quiet" onClick={close}>
                    Cancel
                  </button>
                }
              />
            </>
          )}
        </form>
      </dialog>
    </>
  );
}
