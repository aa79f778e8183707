'use client';
import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useTRPC } from '../../trpc/react.ts';
import { PageHeader } from '../ui/page-header.tsx';
import { QueryState } from '../ui/query-state.tsx';
import { canEditTeam } from '@cider/api/permissions';
import { useIsAdmin, useSessionUser } from '../shell/session-user.tsx';
import { PinForm } from './pin-form.tsx';
import { PinTable } from './pin-table.tsx';
import { ProjectBundle } from './project-bundle.tsx';
import { ProjectSettings } from './project-settings.tsx';
import { RolloutFlow } from './rollout-flow.tsx';
import { RolloutTable } from './rollout-table.tsx';
import { ProjectTrends } from '../overview/project-trends.tsx';

export function ProjectView({ projectId }: { projectId: string }) {
  const trpc = useTRPC();
  const query = useQuery(trpc.projects.byId.queryOptions({ projectId }, { retry: (count, error) => error.data?.code !== 'NOT_FOUND' && count < 3 }));
  const project = query.data;
  const user = useSessionUser();
  const isAdmin = useIsAdmin();
  const canEdit = project ? canEditTeam(user, project.team.id) : false;

  if (query.error?.data?.code === 'NOT_FOUND' || (!project && query.error?.data?.code === 'BAD_REQUEST')) {
    return (
      <>
        <PageHeader title="No such project" />
        <p>
          It may have been deleted. <Link href="/projects">Back to projects</Link>
        </p>
      </>
    );
  }
  if (!project) return <QueryState isPending={query.isPending} error={query.error} what="the project" />;
  return (
    <>
      <PageHeader
        title={project.name}
        description={
          <>
            Team {project.team.name} · {project.nodeSelector ? <code>{project.nodeSelector}</code> : 'all nodes'}
          </>
        }
      />
      <section className="card">
        <h2>Pins</h2>
        <PinTable pins={project.pins} canEdit={canEdit} />
        {canEdit ? (
          <PinForm projectId={project.id} />
        ) : (
          <p className="muted">Only admins and members of team {project.team.name} can change this project's pins.</p>
        )}
      </section>
      <section className="card">
        <h2>Rollout</h2>
        <RolloutTable projectId={project.id} />
      </section>
      <section className="card" aria-labelledby="distribution-title">
        <h2 id="distribution-title">Distribution</h2>
        <p className="muted small">Where each pinned image&apos;s bytes came from on this project&apos;s nodes, from their finished pulls.</p>
        {project.pins.length === 0 ? (
          <p className="muted">Nothing pinned.</p>
        ) : (
          project.pins.map((pin) => <RolloutFlow key={pin.id} projectId={project.id} digest={pin.digest} reference={pin.reference} />)
        )}
      </section>
      <ProjectTrends projectId={project.id} />
      {isAdmin ? <ProjectBundle project={project} /> : null}
      {isAdmin ? (
        <section className="card" aria-labelledby="project-settings-title">
          <h2 id="project-settings-title">Settings</h2>
          <ProjectSettings project={project} />
        </section>
      ) : null}
    </>
  );
}
