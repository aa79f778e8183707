import Link from 'next/link';
import type { RouterOutputs } from '../../trpc/react.ts';

type Project = RouterOutputs['nodes']['get']['projects'][number];

export function NodeProjects({ projects }: { projects: Project[] }) {
  if (projects.length === 0) return <p className="muted">No project&apos;s node selector matches this node&apos;s labels.</p>;
  return (
    <table className="table">
      <thead>
        <tr>
          <th scope="col">Project</th>
          <th scope="col">Team</th>
          <th scope="col">Node selector</th>
          <th scope="col" className="num">
            Pins
          </th>
        </tr>
      </thead>
      <tbody>
        {projects.map((p) => (
          <tr key={p.id} data-project={p.name}>
            <td className="strong">
              <Link href={`/projects/${p.id}`}>{p.name}</Link>
            </td>
            <td>{p.team}</td>
            <td>{p.nodeSelector ? <code>{p.nodeSelector}</code> : <span className="muted">all nodes</span>}</td>
            <td className="num">{p.pins}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
