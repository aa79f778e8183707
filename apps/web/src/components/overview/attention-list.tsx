// Nodes needing attention, grouped by why: each group says how many nodes across the fleet, names
// the first few with every reason in words, and links to the nodes list filtered to all of them.
// Conditions lead a node's line ("mac-7: Disk full: needs 14.2 GiB, 3.1 GiB free"): they are the
// node asking for a person.
import Link from 'next/link';
import { formatBytes, timeAgo } from '../../lib/format.ts';
import type { RouterOutputs } from '../../trpc/react.ts';
import { attentionHref } from '../nodes/node-filter-values.ts';
import { conditionText } from '../node/node-conditions.tsx';

type Attention = RouterOutputs['fleet']['overview']['attention'];
type Group = Attention['groups'][number];
type AttentionNode = Group['nodes'][number];

/** Each kind's heading. */
const attentionTitles: Record<Group['kind'], string> = {
  condition: 'Conditions',
  offline: 'Offline',
  failed: 'Failed syncs',
  drift: 'Missing a pinned image (drift)',
  'low-disk': 'Low on disk',
};

/** What a node's line says under one group: that group's reason in full, then its other kinds in a word. */
function reasons(node: AttentionNode, kind: Group['kind']): string {
  const full: Record<Group['kind'], () => string> = {
    condition: () => node.conditions.map((c) => `${conditionText(c)}${c.type === 'insufficient-space' && c.reference ? ` for ${c.reference}` : ''}`).join(' · '),
    offline: () => `offline, last seen ${timeAgo(node.lastSeenAt ? new Date(node.lastSeenAt) : null)}`,
    failed: () => `${node.failed} pinned ${node.failed === 1 ? 'image' : 'images'} failed to sync`,
    drift: () => `${node.drift} pinned ${node.drift === 1 ? 'image' : 'images'} missing and not being fetched`,
    'low-disk': () => `${formatBytes(node.diskFreeBytes)} free of ${formatBytes(node.diskTotalBytes)}`,
  };
  const others = node.kinds.filter((k) => k !== kind).map((k) => alsoWords[k]);
  return `${full[kind]()}${others.length ? ` (also ${others.join(', ')})` : ''}`;
}

const alsoWords: Record<Group['kind'], string> = { condition: 'has conditions', offline: 'offline', failed: 'failed syncs', drift: 'drift', 'low-disk': 'low on disk' };

function AttentionGroup({ group }: { group: Group }) {
  const title = attentionTitles[group.kind];
  const id = `attention-${group.kind}`;
  return (
    <div className="attention-group" data-kind={group.kind} role="group" aria-labelledby={id}>
      <h3 id={id}>
        {title} <span className="badge">{group.count}</span>
      </h3>
      <ul className="attention-nodes">
        {group.nodes.map((node) => (
          <li key={node.nodeId} data-node={node.name} data-condition={node.conditions[0]?.type}>
            <Link href={`/nodes/${node.nodeId}`}>{node.name}</Link>: {reasons(node, group.kind)}
          </li>
        ))}
      </ul>
      <p className="small">
        <Link href={attentionHref(group.kind)}>
          {group.count > group.nodes.length ? `Show all ${group.count}` : 'Show in the nodes list'}
          <span className="sr-only"> ({title.toLowerCase()})</span>
        </Link>
      </p>
    </div>
  );
}

export function AttentionList({ attention }: { attention: Attention }) {
  return (
    <section className="card" aria-labelledby="attention-title">
      <h2 id="attention-title">Needs attention</h2>
      {attention.total === 0 ? (
        <p className="muted">Nothing: every node is online, holds what it should, and has room.</p>
      ) : (
        <>
          <p className="muted small">
            {attention.total} {attention.total === 1 ? 'node needs' : 'nodes need'} a look.
          </p>
          <div className="attention-groups">
            {attention.groups.map((group) => (
              <AttentionGroup key={group.kind} group={group} />
            ))}
          </div>
        </>
      )}
    </section>
  );
}
