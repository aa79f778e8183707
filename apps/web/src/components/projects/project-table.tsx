'use client';
import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useTRPC } from '../../trpc/react.ts';
import { QueryState } from '../ui/query-state.tsx';
import { StatusBadge } from '../ui/status-badge.tsx';

export function ProjectTable() {
  const trpc = useTRPC();
  const projects = useQuery(trpc.projects.list.queryOptions());

  if (!projects.data) return <QueryState isPending={projects.isPending} error={projects.error} what="projects" />;
  if (projects.data.length === 0) return <p className="muted">No projects yet. Create one below, then pin its base images.</p>;
  return (
    <table className="table">
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Team</th>
          <th scope="col">Node selector</th>
          <th scope="col">Pins</th>
        </tr>
      </thead>
      <tbody>
        {projects.data.map((p) => (
          <tr key={p.id} data-project={p.name}>
            <td className="strong">
              <Link href={`/projects/${p.id}`}>{p.name}</Link>
            </td>
            <td>{p.team.name}</td>
            <td>{p.nodeSelector ? <code>{p.nodeSelector}</code> : <span className="muted">all nodes</span>}</td>
            <td>
              {p.pins.length === 0 ? (
                <span className="muted">none</span>
              ) : (
                <ul className="plain-list">
                  {p.pins.map((pin) => (
                    <li key={pin.id}>
                      <code>{pin.reference}</code> <StatusBadge value={pin.mode} />
                    </li>
                  ))}
                </ul>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
