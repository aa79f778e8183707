// Where a finished pull's bytes came from: a thin stacked bar (registry, mirror, peers) and the
// three figures, plus "origin" when the tracker let this node fetch from the registry for its site.
// Nothing until the agent reported them (a pull still running, or an agent too old to count).
import { formatBytes } from '../../lib/format.ts';
import type { Job } from './job-state.tsx';

type Sources = NonNullable<Job['sources']>;

export const sourceKinds = [
  { key: 'registry', label: 'registry', className: 'source-registry' },
  { key: 'mirror', label: 'mirror', className: 'source-mirror' },
  { key: 'peers', label: 'peers', className: 'source-peers' },
] as const;

export function JobSources({ sources }: { sources: Sources | null }) {
  if (!sources) return null;
  const total = sources.registry + sources.mirror + sources.peers;
  const text = sourceKinds.map((k) => `${formatBytes(sources[k.key])} ${k.label}`).join(' · ');
  return (
    <div className="job-sources" data-sources={`${sources.registry} ${sources.mirror} ${sources.peers}`}>
      {total > 0 ? (
        <div className="source-bar" aria-hidden="true">
          {sourceKinds.map((k) => (sources[k.key] > 0 ? <span key={k.key} className={k.className} style={{ width: `${(sources[k.key] / total) * 100}%` }} /> : null))}
        </div>
      ) : null}
      <div className="small muted">
        <span className="sr-only">Sources: </span>
        {text}
        {sources.peerCount > 0 ? ` (${sources.peerCount} ${sources.peerCount === 1 ? 'peer' : 'peers'})` : null}
        {sources.origin ? (
          <>
            {' '}
            <span className="badge badge-info" title="The tracker let this node fetch what no peer had from the registry, for the others of its site.">
              origin
            </span>
          </>
        ) : null}
      </div>
    </div>
  );
}
