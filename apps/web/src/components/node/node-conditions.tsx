// What needs a person on a node: a disk without room for a pinned image ("Disk full: needs 14.2
// GiB, 3.1 GiB free"), from its agent's last heartbeat, shown until the agent drops it; or bad
// data its peer server sent other Macs, raised by the control plane and shown until an admin clears it.
import { formatBytes, shortDigest, timeAgo } from '../../lib/format.ts';

export type NodeConditionView =
  | { type: 'insufficient-space'; digest?: string; reference?: string; neededBytes: number; freeBytes: number; since: string }
  | { type: 'bad-peer-data'; digest: string; reference?: undefined; reportedBy: string; reports: number; reason: string; since: string };

/** One line a person reads: "Disk full: needs 14.2 GiB, 3.1 GiB free". */
export function conditionText(condition: NodeConditionView): string {
  if (condition.type === 'bad-peer-data') return `Sent bad data to peers (${condition.reports} ${condition.reports === 1 ? 'report' : 'reports'})`;
  return `Disk full: needs ${formatBytes(condition.neededBytes)}, ${formatBytes(condition.freeBytes)} free`;
}

/** What to do about it. */
function conditionAdvice(condition: NodeConditionView): string {
  if (condition.type === 'bad-peer-data') {
    return `Last reported by ${condition.reportedBy}: ${condition.reason}. Other Macs no longer take this image from it. Check its disk, or revoke it if it may be tampered with; an admin clears this once it is fixed.`;
  }
  return 'The agent pulls it again once there is room: free space on this Mac, or unpin images it holds.';
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
            (since {timeAgo(new Date(condition.since))}). {conditionAdvice(condition)}
          </span>
        </p>
      ))}
    </section>
  );
}
