'use client';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useId, useState, type FormEvent } from 'react';
import { useTRPC } from '../../trpc/react.ts';
import { FormFooter } from '../ui/form-footer.tsx';
import { optionalNumber } from './optional-number.ts';
import { SecretOnce } from './secret-once.tsx';

interface Draft {
  name: string;
  labels: string;
  uses: string;
  hours: string;
}

const blank: Draft = { name: '', labels: '', uses: '', hours: '24' };

export function EnrollmentTokenForm() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const id = useId();
  const [draft, setDraft] = useState<Draft>(blank);
  const [created, setCreated] = useState<{ name: string; token: string }>();
  const create = useMutation(trpc.tokens.enrollment.create.mutationOptions());

  function update(patch: Partial<Draft>) {
    setDraft((d) => ({ ...d, ...patch }));
  }

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setCreated(undefined);
    create.mutate(
      { name: draft.name, labels: draft.labels, usesLeft: optionalNumber(draft.uses), expiresInHours: optionalNumber(draft.hours) },
      {
        onSuccess({ token }) {
          setCreated({ name: draft.name, token });
          setDraft(blank);
          void queryClient.invalidateQueries({ queryKey: trpc.tokens.enrollment.pathKey() });
        },
      },
    );
  }

  return (
    <form className="form form-inline" aria-labelledby={`${id}-title`} onSubmit={submit}>
      <h3 id={`${id}-title`}>New enrollment token</h3>
      <div className="form-grid">
        <label className="field">
          <span className="field-label">Token name</span>
          <input name="name" required maxLength={100} autoComplete="off" placeholder="ios-ci rack 2" value={draft.name} onChange={(e) => update({ name: e.target.value })} />
        </label>
        <div className="field">
          <label htmlFor={`${id}-labels`} className="field-label">
            Labels
          </label>
          <input id={`${id}-labels`} name="labels" placeholder="pool=ios-ci, arch=arm64" aria-describedby={`${id}-labels-hint`} value={draft.labels} onChange={(e) => update({ labels: e.target.value })} />
          <span id={`${id}-labels-hint`} className="hint">
            key=value, comma separated; nodes enrolled with it get these labels
          </span>
        </div>
        <div className="field">
          <label htmlFor={`${id}-uses`} className="field-label">
            Uses
          </label>
          <input id={`${id}-uses`} name="uses" type="number" min={1} step={1} aria-describedby={`${id}-uses-hint`} value={draft.uses} onChange={(e) => update({ uses: e.target.value })} />
          <span id={`${id}-uses-hint`} className="hint">
            How many Macs may enroll with it; empty = unlimited
          </span>
        </div>
        <div className="field">
          <label htmlFor={`${id}-hours`} className="field-label">
            Expires after (hours)
          </label>
          <input id={`${id}-hours`} name="hours" type="number" min={1} step={1} aria-describedby={`${id}-hours-hint`} value={draft.hours} onChange={(e) => update({ hours: e.target.value })} />
          <span id={`${id}-hours-hint`} className="hint">
            Empty = never expires
          </span>
        </div>
      </div>
      <FormFooter error={create.error} submit={{ label: 'Create token', pendingLabel: 'Creating…', pending: create.isPending }}>
        {created ? (
          <SecretOnce
            title={`Created enrollment token ${created.name}.`}
            label="Enrollment token"
            secret={created.token}
            command="pbpaste | cider-agent enroll --server <control-plane-url> --token-stdin"
            commandHint="Copy the token, then run this on the Mac: the token comes from the clipboard, so it never shows in the shell's history or the process list. Replace <control-plane-url> with the agent gateway address of your control plane, e.g. https://cider.example.com:4000."
          />
        ) : null}
      </FormFooter>
    </form>
  );
}
