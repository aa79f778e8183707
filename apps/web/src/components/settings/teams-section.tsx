'use client';
import { useQuery } from '@tanstack/react-query';
import { useTRPC } from '../../trpc/react.ts';
import { QueryState } from '../ui/query-state.tsx';
import { TeamForm } from './team-form.tsx';
import { TeamPanel } from './team-panel.tsx';

export function TeamsSection() {
  const trpc = useTRPC();
  const teams = useQuery(trpc.teams.list.queryOptions());
  const users = useQuery(trpc.users.list.queryOptions());

  return (
    <section className="card" id="teams" aria-labelledby="teams-title">
      <h2 id="teams-title">Teams</h2>
      <p className="muted small">A team owns projects. Team members with the team role member or admin change pins in those projects; team viewers only read.</p>
      {!teams.data || !users.data ? (
        <QueryState isPending={teams.isPending || users.isPending} error={teams.error ?? users.error} what="teams" />
      ) : teams.data.length === 0 ? (
        <p className="muted">No teams yet. Create one below.</p>
      ) : (
        <div className="team-list">
          {teams.data.map((team) => (
            <TeamPanel key={team.id} team={team} users={users.data} />
          ))}
        </div>
      )}
      <TeamForm />
    </section>
  );
}
