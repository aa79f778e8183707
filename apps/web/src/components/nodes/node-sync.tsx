// A node's sync column: in words first (the badge colour only repeats them).
import type { RouterOutputs } from '../../trpc/react.ts';

type NodeSync = RouterOutputs['nodes']['page']['rows'][number]['sync'];

export function NodeSyncCell({ sync }: { sync: NodeSync }) {
  const pinned = `${sync.held} of ${sync.pinned} pinned`;
  switch (sync.state) {
    case 'in-sync':
      return sync.pinned === 0 ? <span className="muted">nothing pinned</span> : <span className="badge badge-ok">in sync</span>;
    case 'fetching':
      return (
        <>
          <span className="badge badge-info">fetching{sync.percent === null ? '' : ` ${sync.percent}%`}</span>
          <div className="muted small">{pinned}</div>
        </>
      );
    case 'failed':
      return (
        <>
          <span className="badge badge-error">failed</span>
          <div className="muted small">{pinned}</div>
        </>
      );
    case 'behind':
      return <span className="badge badge-warn">{pinned}</span>;
  }
}
