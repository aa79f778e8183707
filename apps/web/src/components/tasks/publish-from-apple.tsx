'use client';
// "Publish from Apple" on the Images page (admins): the restore images Apple's catalog offers
// (read by the server, cached a few minutes), pushed by the control plane to a connected registry
// straight from Apple's URL, its SHA-1 checked. The task then shows in the tasks panel below.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useId, useRef, useState, type FormEvent } from 'react';
import { formatBytes } from '../../lib/format.ts';
import { useTRPC } from '../../trpc/react.ts';
import { FormFooter } from '../ui/form-footer.tsx';

function tagList(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((t) => t.trim())
    .filter(Boolean);
}

export function PublishFromApple() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const id = useId();
  const dialog = useRef<HTMLDialogElement>(null);
  const [open, setOpen] = useState(false);
  const catalog = useQuery(trpc.tasks.appleCatalog.queryOptions(undefined, { enabled: open, staleTime: 60_000 }));
  const registries = useQuery(trpc.images.registries.queryOptions(undefined, { enabled: open }));
  const [build, setBuild] = useState('');
  const [registryId, setRegistryId] = useState('');
  const [repository, setRepository] = useState('macos');
  const [tags, setTags] = useState<string | undefined>(undefined);
  const [started, setStarted] = useState<string>();
  const publish = useMutation(trpc.tasks.publishFromApple.mutationOptions());

  const chosenBuild = build || catalog.data?.images[0]?.build || '';
  const image = catalog.data?.images.find((i) => i.build === chosenBuild);
  // The catalog gives no sizes: the server asks the chosen image's URL (cached a few minutes).
  const size = useQuery(trpc.tasks.appleImageSize.queryOptions({ build: chosenBuild }, { enabled: open && Boolean(image), staleTime: 5 * 60_000 }));
  const sizeUnknown = size.data?.error ?? size.error?.message;
  const chosenRegistry = registryId || registries.data?.[0]?.id || '';
  const defaultTags = image ? `${image.version} ${image.version}-${image.build}` : '';
  const tagText = tags ?? defaultTags;

  function show() {
    setOpen(true);
    setStarted(undefined);
    publish.reset();
    dialog.current?.showModal();
  }
  function close() {
    dialog.current?.close();
  }
  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (!chosenBuild || !chosenRegistry) return;
    publish.mutate(
      { build: chosenBuild, registryId: chosenRegistry, repository, tags: tagList(tagText) },
      {
        onSuccess(task) {
          setStarted(task.title);
          void queryClient.invalidateQueries({ queryKey: trpc.tasks.pathKey() });
        },
      },
    );
  }

  return (
    <>
      <button type="button" className="button" onClick={show}>
        Publish from Apple…
      </button>
      <dialog ref={dialog} className="pin-dialog" aria-labelledby={`${id}-title`} onClose={() => setOpen(false)}>
        <form className="form" aria-labelledby={`${id}-title`} onSubmit={submit}>
          <h2 id={`${id}-title`}>Publish from Apple</h2>
          {/* Nothing is asked (of Apple's catalog either) until the dialog opens. */}
          {!open ? null : started ? (
            <>
              <p className="alert alert-ok" role="status">
                Started: {started}. The control plane streams it from Apple into the registry; follow it under Server tasks.
              </p>
              <div className="form-actions">
                <button type="button" className="button button-primary" onClick={close}>
                  Close
                </button>
              </div>
            </>
          ) : (
            <>
              <p className="muted small">
                Restore images from {catalog.data ? <code>{catalog.data.url}</code> : "Apple's catalog"}. Nothing is staged on disk: the IPSW streams from Apple into the registry and
                its SHA-1 is checked on the way.
              </p>
              <label className="field">
                <span className="field-label">macOS version</span>
                <select required value={chosenBuild} onChange={(e) => (setBuild(e.target.value), setTags(undefined))} disabled={!catalog.data} aria-describedby={`${id}-size`}>
                  {catalog.isPending ? <option value="">Loading the catalog…</option> : null}
                  {catalog.data?.images.map((i) => (
                    <option key={i.build} value={i.build}>
                      macOS {i.version} ({i.build})
                    </option>
                  ))}
                </select>
              </label>
              <p className="hint" id={`${id}-size`} aria-live="polite">
                {!image ? null : size.data?.size != null ? (
                  <>{formatBytes(size.data.size)} to stream from Apple into the registry.</>
                ) : sizeUnknown ? (
                  <>Its size is unknown: {sizeUnknown}</>
                ) : (
                  <>Asking its size…</>
                )}
              </p>
              <label className="field">
                <span className="field-label">Registry</span>
                <select required value={chosenRegistry} onChange={(e) => setRegistryId(e.target.value)}>
                  {registries.isPending ? <option value="">Loading…</option> : null}
                  {registries.data?.map((r) => (
                    <option key={r.id} value={r.id}>
                      {r.name} ({r.host})
                    </option>
                  ))}
                </select>
              </label>
              <label className="field">
                <span className="field-label">Repository</span>
                <input required value={repository} onChange={(e) => setRepository(e.target.value)} placeholder="macos" spellCheck={false} autoCapitalize="off" />
              </label>
              <label className="field">
                <span className="field-label">Tags</span>
                <input value={tagText} onChange={(e) => setTags(e.target.value)} placeholder={defaultTags} spellCheck={false} autoCapitalize="off" aria-describedby={`${id}-tags-hint`} />
              </label>
              <p className="hint" id={`${id}-tags-hint`}>
                Separated by spaces; the registry&apos;s tag policy applies.
              </p>
              <FormFooter
                error={publish.error ?? catalog.error ?? registries.error}
                submit={{ label: 'Publish', pendingLabel: 'Starting…', pending: publish.isPending, disabled: !chosenBuild || !chosenRegistry }}
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
