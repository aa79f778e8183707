'use client';
import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useTRPC } from '../../trpc/react.ts';
import { QueryState } from '../ui/query-state.tsx';
import { StatusBadge } from '../ui/status-badge.tsx';
import { DataTable } from '../ui/data-table.tsx';
import { Token } from '../ui/token.tsx';

export function ProjectTable() {
  const trpc = useTRPC();
  const projects = useQuery(trpc.projects.list.queryOptions());

  if (!projects.data) return <QueryState isPending={projects.isPending} error={projects.error} what="projects" />;
  if (projects.data.length === 0) return <p className="muted">No projects yet. Create one below, then pin its base images.</p>;
  return (
    <div className="table-scroll">
      <DataTable
        rows={projects.data}
        rowKey={(p) => p.id}
        rowAttributes={(p) => ({ 'data-project': p.name })}
        columns={[
          { header: 'Name', kind: 'strong', cell: (p) => <Link href={`/projects/${p.id}`}>{p.name}</Link> },
          { header: 'Team', cell: (p) => p.team.name },
          { header: 'Node selector', cell: (p) => (p.nodeSelector ? <code>{p.nodeSelector}</code> : <span className="muted">all nodes</span>) },
          {
            header: 'Pins',
            cell: (p) =>
              p.pins.length === 0 ? (
                <span className="muted">none</span>
              ) : (
                <ul className="plain-list">
                  {p.pins.map((pin) => (
                    <li key={pin.id} className="nowrap">
                      <Token value={pin.reference} kind="reference" /> <StatusBadge value={pin.mode} />
                    </li>
                  ))}
                </ul>
              ),
          },
        ]}
      />
    </div>
  );
}
