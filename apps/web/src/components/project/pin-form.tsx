'use client';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { shortDigest } from '../../lib/format.ts';
import { useTRPC } from '../../trpc/react.ts';
import { FormFooter } from '../ui/form-footer.tsx';

export function PinForm({ projectId }: { projectId: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [reference, setReference] = useState('');
  const [mode, setMode] = useState<'follow' | 'frozen'>('follow');
  const [status, setStatus] = useState<string>();
  const pin = useMutation(trpc.pins.set.mutationOptions());

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setStatus(undefined);
    pin.mutate(
      { projectId, reference, mode },
      {
        onSuccess(saved) {
          setReference('');
          setStatus(`Pinned ${saved.reference} at ${shortDigest(saved.digest)}; nodes are fetching it.`);
          void queryClient.invalidateQueries({ queryKey: trpc.projects.pathKey() });
        },
      },
    );
  }

  return (
    <form className="form form-inline" aria-labelledby="pin-image-title" onSubmit={submit}>
      <h3 id="pin-image-title">Pin an image</h3>
      <div className="form-grid">
        <label className="field field-wide">
          <span className="field-label">Image reference</span>
          <input
            name="reference"
            required
            spellCheck={false}
            autoComplete="off"
            placeholder="<registry>/demo/macos:15.2"
            value={reference}
            onChange={(e) => {
              setReference(e.target.value);
              setStatus(undefined);
            }}
          />
        </label>
        <label className="field">
          <span className="field-label">Mode</span>
          <select name="mode" value={mode} onChange={(e) => setMode(e.target.value === 'frozen' ? 'frozen' : 'follow')}>
            <option value="follow">Follow tag</option>
            <option value="frozen">Freeze to digest</option>
          </select>
        </label>
      </div>
      <FormFooter error={pin.error} status={status} submit={{ label: 'Pin image', pendingLabel: 'Resolving…', pending: pin.isPending }} />
    </form>
  );
}
