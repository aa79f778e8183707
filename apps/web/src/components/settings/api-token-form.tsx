'use client';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useId, useState, type FormEvent } from 'react';
import { useTRPC } from '../../trpc/react.ts';
import { FormFooter } from '../ui/form-footer.tsx';
import { optionalNumber } from './optional-number.ts';
import { SecretOnce } from './secret-once.tsx';

export function ApiTokenForm() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const id = useId();
  const [name, setName] = useState('');
  const [days, setDays] = useState('90');
  const [created, setCreated] = useState<{ name: string; token: string }>();
  const create = useMutation(trpc.tokens.api.create.mutationOptions());

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setCreated(undefined);
    create.mutate(
      // Empty asks for the server's default: every API token expires.
      { name, expiresInDays: optionalNumber(days) ?? undefined },
      {
        onSuccess({ token, apiToken }) {
          setCreated({ name: apiToken.name, token });
          setName('');
          void queryClient.invalidateQueries({ queryKey: trpc.tokens.api.pathKey() });
        },
      },
    );
  }

  return (
    <form className="form form-inline" aria-labelledby={`${id}-title`} onSubmit={submit}>
      <h3 id={`${id}-title`}>New API token</h3>
      <div className="form-grid">
        <label className="field">
          <span className="field-label">Token name</span>
          <input name="name" required maxLength={100} autoComplete="off" placeholder="ci-runner" value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <div className="field">
          <label htmlFor={`${id}-days`} className="field-label">
            Expires after (days)
          </label>
          <input id={`${id}-days`} name="days" type="number" min={1} step={1} aria-describedby={`${id}-days-hint`} value={days} onChange={(e) => setDays(e.target.value)} />
          <span id={`${id}-days-hint`} className="hint">
            Empty = the server&apos;s default (90 days unless configured); tokens always expire
          </span>
        </div>
      </div>
      <FormFooter error={create.error} submit={{ label: 'Create API token', pendingLabel: 'Creating…', pending: create.isPending }}>
        {created ? <SecretOnce title={`Created API token ${created.name}.`} label="API token" secret={created.token} /> : null}
      </FormFooter>
    </form>
  );
}
