'use client';
import { useRouter } from 'next/navigation';
import { useState, type FormEvent } from 'react';
import { repositoryHref } from './image-paths.ts';

/** For registries that keep their catalog private (and for the impatient): go to a repository by name. */
export function OpenRepositoryForm({ registryId, host }: { registryId: string; host: string }) {
  const router = useRouter();
  const [name, setName] = useState('');

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const repository = name.trim().replace(/^\/+|\/+$/g, '');
    if (repository) router.push(repositoryHref(registryId, repository));
  }

  return (
    <form className="form form-inline" aria-labelledby="open-repository-title" onSubmit={submit}>
      <h3 id="open-repository-title">Open a repository by name</h3>
      <div className="toolbar">
        <label className="field field-grow">
          <span className="field-label">Repository on {host}</span>
          <input name="repository" required spellCheck={false} autoComplete="off" placeholder="demo/macos" value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <button type="submit" className="button">
          Open
        </button>
      </div>
    </form>
  );
}
