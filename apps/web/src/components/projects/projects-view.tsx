'use client';
import { useIsAdmin } from '../shell/session-user.tsx';
import { PageHeader } from '../ui/page-header.tsx';
import { ProjectForm } from './project-form.tsx';
import { ProjectTable } from './project-table.tsx';

export function ProjectsView() {
  const isAdmin = useIsAdmin();
  return (
    <>
      <PageHeader title="Projects" description="Each project pins base images for the nodes its selector matches." />
      <section className="card">
        <ProjectTable />
      </section>
      {isAdmin ? (
        <section className="card">
          <ProjectForm />
        </section>
      ) : null}
    </>
  );
}
