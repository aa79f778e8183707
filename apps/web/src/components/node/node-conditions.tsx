// What needs a person on a node, as its agent last reported it: for now, a disk without room for
// a pinned image ("Disk full: needs 14.2 GiB, 3.1 GiB free"). Shown until the agent drops it.
import { formatBytes, shortDigest, timeAgo } from '../../lib/format.ts';

export interface NodeConditionView {
  type: 'insufficient-space';
  digest?: string;
  reference?: string;
  neededBytes: number;
  freeBytes: number;
  since: string;
}

/** One line a person reads: "Disk full: needs 14.2 GiB, 3.1 GiB free". */
export function conditionText(condition: NodeConditionView): string {
  return `Disk full: needs ${formatBytes(condition.neededBytes)}, ${formatBytes(condition.freeBytes)} free`;
}

export function NodeConditions({ conditions }: { conditions: NodeConditionView[] }) {
  if (conditions.length === 0) return null;
  return (
    <section aria-label="Needs attention">
      {conditions.map((condition) => (
        <p key={`${condition.type} ${condition.digest ?? ''}`} className="alert alert-warn" role="status" data-condition={condition.type}>
          <strong>{conditionText(condition)}</strong>
          {condition.reference || condition.digest ? <> for <code>{condition.reference ?? shortDigest(condition.digest!)}</code></> : null}
          {' '}
          <span className="small">
            (since {timeAgo(new Date(condition.since))}). The agent pulls it again once there is room: free space on this Mac, or unpin images it holds.
          </span>
        </p>
      ))}
    </section>
  );
}
