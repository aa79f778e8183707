'use client';
import { useIsAdmin } from '../shell/session-user.tsx';
import { PageHeader } from '../ui/page-header.tsx';
import { MirrorSection } from './mirror-section.tsx';
import { RegistryForm } from './registry-form.tsx';
import { RegistryTable } from './registry-table.tsx';

export function RegistriesView() {
  const isAdmin = useIsAdmin();
  return (
    <>
      <PageHeader title="Registries" description="OCI registries that images are pinned from. Credentials stay on the server." />
      <section className="card">
        <RegistryTable />
      </section>
      {isAdmin ? (
        <section className="card">
          <RegistryForm />
        </section>
      ) : null}
      <section className="card" aria-labelledby="mirrors-title">
        <MirrorSection />
      </section>
    </>
  );
}
