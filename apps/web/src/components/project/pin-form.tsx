'use client';
// Pinning an image in a project: pick it (registry, repository, tag) or type its reference, choose
// follow or freeze, and hear what the nodes will do now, in the server's words.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { useId, useState, type FormEvent } from 'react';
import { repositoryHref } from '../images/image-paths.ts';
import { useTRPC } from '../../trpc/react.ts';
import { FormFooter } from '../ui/form-footer.tsx';
import { ImagePicker } from './image-picker.tsx';
import { PinModeField, type PinMode } from './pin-mode-field.tsx';

export function PinForm({ projectId }: { projectId: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const id = useId();
  const [reference, setReference] = useState('');
  const [mode, setMode] = useState<PinMode>('follow');
  const [status, setStatus] = useState<string>();
  const pin = useMutation(trpc.pins.set.mutationOptions());
  const registries = useQuery(trpc.images.registries.queryOptions());
  // A tag that is not there: offer its repository's tag list, when the registry is connected.
  const [, host, repository] = /^([^/]+)\/(.+?)(?::[^/:@]+)?(?:@.*)?$/.exec(pin.variables?.reference.trim() ?? '') ?? [];
  const registryId = registries.data?.find((r) => r.host === host)?.id;
  const tagList = pin.error?.data?.code === 'NOT_FOUND' && registryId && repository ? repositoryHref(registryId, repository) : undefined;

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setStatus(undefined);
    pin.mutate(
      { projectId, reference, mode },
      {
        onSuccess(saved) {
          setReference('');
          setStatus(saved.message);
          void queryClient.invalidateQueries({ queryKey: trpc.projects.pathKey() });
        },
      },
    );
  }

  return (
    <form className="form form-inline" aria-labelledby="pin-image-title" onSubmit={submit}>
      <h3 id="pin-image-title">Pin an image</h3>
      <ImagePicker
        onPick={(picked) => {
          setReference(picked);
          setStatus(undefined);
          pin.reset();
        }}
      />
      <div className="field">
        <label className="field-label" htmlFor={`${id}-reference`}>
          Image reference
        </label>
        <input
          id={`${id}-reference`}
          name="reference"
          required
          spellCheck={false}
          autoComplete="off"
          maxLength={600}
          placeholder="<registry>/demo/macos:15.2"
          aria-describedby={`${id}-reference-hint`}
          value={reference}
          onChange={(e) => {
            setReference(e.target.value);
            setStatus(undefined);
          }}
        />
        <span id={`${id}-reference-hint`} className="hint">
          Filled in by the choice above; or type one.
        </span>
      </div>
      <PinModeField value={mode} onChange={setMode} />
      <FormFooter error={pin.error} status={status} submit={{ label: 'Pin image', pendingLabel: 'Resolving…', pending: pin.isPending }}>
        {tagList ? (
          <p>
            <Link href={tagList}>Open the tag list of {repository}</Link>
          </p>
        ) : null}
      </FormFooter>
    </form>
  );
}
