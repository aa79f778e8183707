'use client';
// A project's settings for admins: rename it, change which nodes it serves (previewed as typed),
// delete it. Deleting asks first and says what happens: pins go, cached images stay on the nodes.
import { nameLimits } from '@cider/api/names';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useRouter } from 'next/navigation';
import { useId, useState, type FormEvent } from 'react';
import { useTRPC, type RouterOutputs } from '../../trpc/react.ts';
import { ConfirmButton } from '../ui/confirm-button.tsx';
import { ErrorAlert } from '../ui/error-alert.tsx';
import { FormFooter } from '../ui/form-footer.tsx';
import { CountedField } from '../ui/counted-field.tsx';
import { SelectorPreview } from '../projects/selector-preview.tsx';

type Project = RouterOutputs['projects']['byId'];

function useUpdate() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  return useMutation(trpc.projects.update.mutationOptions({ onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.projects.pathKey() }) }));
}

function RenameForm({ project }: { project: Project }) {
  const [name, setName] = useState(project.name);
  const [status, setStatus] = useState<string>();
  const update = useUpdate();
  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setStatus(undefined);
    update.mutate({ projectId: project.id, name }, { onSuccess: (saved) => setStatus(`Renamed to ${saved.name}.`) });
  }
  return (
    <form className="form" aria-label="Rename project" onSubmit={submit}>
      <CountedField label="Project name" required autoComplete="off" what="Project names" max={nameLimits.project} value={name} onChange={setName} />
      <FormFooter error={update.error} status={status} submit={{ label: 'Rename', pendingLabel: 'Renaming…', pending: update.isPending, disabled: name.trim() === project.name, small: true }} />
    </form>
  );
}

function SelectorForm({ project }: { project: Project }) {
  const id = useId();
  const [selector, setSelector] = useState(project.nodeSelector);
  const [status, setStatus] = useState<string>();
  const update = useUpdate();
  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setStatus(undefined);
    update.mutate(
      { projectId: project.id, nodeSelector: selector },
      { onSuccess: (saved) => setStatus(saved.nodeSelector ? `Selector saved: ${saved.nodeSelector}.` : 'Selector saved: every node serves this project.') },
    );
  }
  return (
    <form className="form" aria-label="Edit node selector" onSubmit={submit}>
      <div className="field">
        <label className="field-label" htmlFor={`${id}-selector`}>
          Node selector
        </label>
        <input id={`${id}-selector`} value={selector} maxLength={500} spellCheck={false} placeholder="pool=ios-ci" aria-describedby={`${id}-hint ${id}-preview`} onChange={(e) => setSelector(e.target.value)} />
        <span id={`${id}-hint`} className="hint">
          key=value, separated by commas; empty = all nodes. Nodes that stop matching stop being asked for this project&apos;s images.
        </span>
        <SelectorPreview id={`${id}-preview`} selector={selector} />
      </div>
      <FormFooter error={update.error} status={status} submit={{ label: 'Save selector', pendingLabel: 'Saving…', pending: update.isPending, small: true }} />
    </form>
  );
}

function DeleteProject({ project }: { project: Project }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const router = useRouter();
  const remove = useMutation(trpc.projects.delete.mutationOptions());
  const pins = project.pins.length;
  return (
    <div className="project-delete">
      <ErrorAlert error={remove.error} />
      <ConfirmButton
        label="Delete project…"
        ariaLabel={`Delete project ${project.name}`}
        question={
          <>
            Delete project {project.name}?{' '}
            {pins === 0 ? 'It pins nothing.' : `Its ${pins} pin${pins === 1 ? ' is' : 's are'} removed, so its nodes stop being asked for ${pins === 1 ? 'that image' : 'those images'}.`} Images the
            nodes already hold are not deleted: they stay in each node&apos;s cache until the node needs the room.
          </>
        }
        confirmLabel="Delete project"
        pending={remove.isPending}
        onConfirm={(done) =>
          remove.mutate(
            { projectId: project.id },
            {
              onSuccess() {
                done();
                void queryClient.invalidateQueries({ queryKey: trpc.projects.list.queryKey() });
                router.push('/projects');
              },
            },
          )
        }
      />
    </div>
  );
}

export function ProjectSettings({ project }: { project: Project }) {
  return (
    <div className="project-settings">
      <RenameForm project={project} />
      <SelectorForm project={project} />
      <DeleteProject project={project} />
    </div>
  );
}
