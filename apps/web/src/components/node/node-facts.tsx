import { formatBytes, formatLabels, timeAgo } from '../../lib/format.ts';
import type { RouterOutputs } from '../../trpc/react.ts';
import { formatDateTime } from '../images/format.ts';
import { SpecSheet, type SpecItem } from '../images/spec-sheet.tsx';
import { UsageBar } from './usage-bar.tsx';

type Node = RouterOutputs['nodes']['get'];

/** The host as its agent last described it, laid out like the image spec sheets. */
export function NodeFacts({ node }: { node: Node }) {
  const f = node.facts;
  const presence: SpecItem[] = [
    { field: 'last-seen', label: 'Last seen', value: node.lastSeenAt ? <span title={formatDateTime(node.lastSeenAt)}>{timeAgo(node.lastSeenAt)}</span> : 'never' },
    { field: 'agent-version', label: 'Agent version', value: node.agentVersion },
    { field: 'enrolled', label: 'Enrolled', value: formatDateTime(node.enrolledAt) },
    {
      field: 'labels',
      label: 'Labels',
      // A row of its own, one chip per label: a label wraps to the next line whole, never mid-word.
      wide: true,
      value: Object.keys(node.labels).length ? (
        <span className="label-chips">
          {Object.entries(node.labels).map(([key, value]) => (
            <code key={key}>{formatLabels({ [key]: value })}</code>
          ))}
        </span>
      ) : (
        <span className="muted">none</span>
      ),
    },
  ];
  if (node.revokedAt) presence.push({ field: 'revoked', label: 'Revoked', value: formatDateTime(node.revokedAt) });
  if (!f) {
    return (
      <>
        <SpecSheet label="Presence" items={presence} />
        <p className="muted">This node has not reported its host facts yet: they arrive with its first heartbeat.</p>
      </>
    );
  }
  const diskUsed = Math.max(0, f.disk.totalBytes - f.disk.freeBytes);
  const items: SpecItem[] = [
    { field: 'hostname', label: 'Hostname', value: <code>{f.hostname}</code> },
    {
      field: 'os',
      label: 'Operating system',
      // macOS reports its product version (15.2); elsewhere the version is a long kernel build string.
      value:
        f.os.platform === 'macOS' ? (
          <>
            macOS {f.os.version ?? ''} <span className="muted small">Darwin {f.os.release}</span>
          </>
        ) : (
          <span title={f.os.version ?? undefined}>
            {f.os.platform} {f.os.release}
          </span>
        ),
    },
    { field: 'architecture', label: 'Architecture', value: f.architecture },
    { field: 'cpu', label: 'CPU', value: `${f.cpu.model} · ${f.cpu.cores} cores` },
    { field: 'memory', label: 'Memory', value: formatBytes(f.memoryBytes) },
    ...presence,
    {
      field: 'disk',
      label: 'Disk',
      wide: true,
      value: (
        <UsageBar
          used={diskUsed}
          total={f.disk.totalBytes}
          label="Disk used"
          kind="disk"
          detail={`${formatBytes(f.disk.freeBytes)} free of ${formatBytes(f.disk.totalBytes)}`}
        />
      ),
    },
    {
      field: 'cache',
      label: 'Image cache',
      wide: true,
      value:
        f.cache.quotaBytes !== null && f.cache.quotaBytes > 0 ? (
          <UsageBar
            used={f.cache.bytes}
            total={f.cache.quotaBytes}
            label="Cache quota used"
            kind="cache"
            detail={`${formatBytes(f.cache.bytes)} of a ${formatBytes(f.cache.quotaBytes)} quota · ${f.cache.path}`}
          />
        ) : (
          <span>
            {formatBytes(f.cache.bytes)} <span className="muted">· no quota · {f.cache.path}</span>
          </span>
        ),
    },
    {
      field: 'peer',
      label: 'Peer server',
      value: f.peer ? (
        <span>
          port {f.peer.port}
          {f.peer.addresses.length ? <> · {f.peer.addresses.map((a, i) => <code key={a}>{i > 0 ? ', ' : ''}{a}</code>)}</> : <span className="muted"> · no address reported</span>}
        </span>
      ) : (
        <span className="muted">not serving peers</span>
      ),
    },
  ];
  if (f.peer) {
    items.push({
      field: 'peer-uploads',
      label: 'Uploaded to peers',
      value: (
        <span className="tabular">
          {f.peer.uploadedBytes === null ? '—' : formatBytes(f.peer.uploadedBytes)}
          <span className="muted"> since the agent started</span>
          {f.peer.uploadsInFlight !== null ? ` · ${f.peer.uploadsInFlight} ${f.peer.uploadsInFlight === 1 ? 'upload' : 'uploads'} in flight` : null}
        </span>
      ),
    });
  }
  return <SpecSheet label="Host" items={items} />;
}
