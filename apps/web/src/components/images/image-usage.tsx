import Link from 'next/link';
import { formatBytes, shortDigest, timeAgo } from '../../lib/format.ts';
import type { RouterOutputs } from '../../trpc/react.ts';
import { StatusBadge } from '../ui/status-badge.tsx';

type Detail = RouterOutputs['images']['detail'];

/** Nodes whose cache holds this digest (or, for an index, one of its manifests). */
export function HeldByTable({ detail }: { detail: Detail }) {
  if (detail.heldBy.length === 0) return <p className="muted">No node holds this image yet. Pin it in a project and its nodes will fetch it.</p>;
  const showDigest = detail.kind === 'index';
  return (
    <table className="table">
      <thead>
        <tr>
          <th scope="col">Node</th>
          <th scope="col">Status</th>
          {showDigest ? <th scope="col">Manifest</th> : null}
          <th scope="col" className="num">
            Size
          </th>
          <th scope="col">Verified</th>
          <th scope="col">Last used</th>
        </tr>
      </thead>
      <tbody>
        {detail.heldBy.map((h) => (
          <tr key={`${h.nodeId} ${h.digest}`} data-node={h.nodeName}>
            <td className="strong">
              <Link href={`/nodes/${h.nodeId}`}>{h.nodeName}</Link>
            </td>
            <td>
              <StatusBadge value={h.nodeStatus} />
            </td>
            {showDigest ? (
              <td>
                <code title={h.digest}>{shortDigest(h.digest)}</code>
              </td>
            ) : null}
            <td className="num">{formatBytes(h.size)}</td>
            <td className="muted">{timeAgo(h.verifiedAt)}</td>
            <td className="muted">{timeAgo(h.lastUsedAt)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Pins using this digest, and pins on this tag that sit at another digest (frozen, or not yet moved). */
export function PinsUsingTable({ detail }: { detail: Detail }) {
  if (detail.pins.length === 0) return <p className="muted">No project pins this image.</p>;
  return (
    <table className="table">
      <thead>
        <tr>
          <th scope="col">Project</th>
          <th scope="col">Pin</th>
          <th scope="col">Mode</th>
          <th scope="col">Digest</th>
        </tr>
      </thead>
      <tbody>
        {detail.pins.map((pin) => (
          <tr key={pin.id} data-project={pin.projectName}>
            <td className="strong">
              <Link href={`/projects/${pin.projectId}`}>{pin.projectName}</Link>
            </td>
            <td>
              <code>{pin.reference}</code>
            </td>
            <td>
              <StatusBadge value={pin.mode} label={pin.mode === 'follow' ? 'follows tag' : 'frozen'} />
            </td>
            <td>
              {pin.usesThis ? (
                <span className="text-ok">uses this image</span>
              ) : (
                <span className="badge badge-warn" title={pin.digest}>
                  at {shortDigest(pin.digest)}
                </span>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
