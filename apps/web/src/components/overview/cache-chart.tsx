// Disk and cache at fleet scale: one bar for the whole fleet (cache, other use, free), then the
// ten largest caches on a scale of their own, so a 32 MiB cache beside 76 GiB free is a visible
// bar rather than a grey line, and 1,000 nodes are never 1,000 bars. The server sorts by size
// then name, so bars keep their places between updates. Plain SVG; every figure is also text.
import { formatBytes, percent } from '../../lib/format.ts';
import type { RouterOutputs } from '../../trpc/react.ts';

type Overview = RouterOutputs['fleet']['overview'];

const rowHeight = 26;
const labelWidth = 170;
const barWidth = 440;
const valueWidth = 250;

function FleetDisk({ data }: { data: Overview }) {
  const { cacheBytes, diskTotalBytes, diskFreeBytes } = data;
  const other = Math.max(0, diskTotalBytes - diskFreeBytes - cacheBytes);
  const share = (bytes: number) => (diskTotalBytes > 0 ? (bytes / diskTotalBytes) * 100 : 0);
  const text = `Cache ${formatBytes(cacheBytes)}, other use ${formatBytes(other)}, free ${formatBytes(diskFreeBytes)} of ${formatBytes(diskTotalBytes)} on ${data.reporting} ${data.reporting === 1 ? 'node' : 'nodes'}`;
  return (
    <div className="fleet-disk">
      <h3>Whole fleet</h3>
      <div className="stacked-bar" role="img" aria-label={text} data-field="fleet-disk">
        {/* A cache under half a percent still gets a sliver, so it is seen at all. */}
        <div className="stacked-cache" style={{ width: `${cacheBytes > 0 ? Math.max(0.5, share(cacheBytes)) : 0}%` }} />
        <div className="stacked-other" style={{ width: `${share(other)}%` }} />
        <div className="stacked-free" style={{ width: `${share(diskFreeBytes)}%` }} />
      </div>
      <p className="small">{text}.</p>
    </div>
  );
}

function LargestCaches({ nodes }: { nodes: Overview['cacheTop'] }) {
  const scale = Math.max(1, ...nodes.map((n) => n.cacheBytes));
  return (
    <>
      <h3>Largest caches</h3>
      <svg
        className="chart"
        role="img"
        aria-label={`The ${nodes.length} largest caches: ${nodes.map((n) => `${n.node} ${formatBytes(n.cacheBytes)}`).join(', ')}`}
        viewBox={`0 0 ${labelWidth + barWidth + valueWidth} ${nodes.length * rowHeight}`}
        width="100%"
        preserveAspectRatio="xMinYMin meet"
      >
        {nodes.map((n, i) => (
          <g key={n.nodeId} transform={`translate(0 ${i * rowHeight})`} data-node={n.node}>
            <title>{`${n.node}: cache ${formatBytes(n.cacheBytes)}, disk free ${formatBytes(n.diskFreeBytes)} of ${formatBytes(n.diskTotalBytes)}`}</title>
            <text x={0} y={rowHeight / 2} dominantBaseline="middle" className="chart-label">
              {n.node.length > 24 ? `${n.node.slice(0, 23)}…` : n.node}
            </text>
            <rect x={labelWidth} y={6} width={barWidth} height={rowHeight - 12} rx={3} className="chart-track" />
            <rect x={labelWidth} y={6} width={Math.max(2, (n.cacheBytes / scale) * barWidth)} height={rowHeight - 12} rx={3} className="chart-cache" />
            <text x={labelWidth + barWidth + 12} y={rowHeight / 2} dominantBaseline="middle" className="chart-value">
              {`${formatBytes(n.cacheBytes)} · ${formatBytes(n.diskFreeBytes)} free (${percent(n.diskFreeBytes, n.diskTotalBytes)}%)`}
            </text>
          </g>
        ))}
      </svg>
      <p className="muted small">Bars compare caches with each other (the largest fills the track); the figures give each node&apos;s free disk.</p>
    </>
  );
}

export function CacheChart({ data }: { data: Overview }) {
  if (data.nodes === 0) return <p className="muted">No nodes have enrolled yet.</p>;
  return (
    <>
      <FleetDisk data={data} />
      {data.cacheTop.length ? <LargestCaches nodes={data.cacheTop} /> : <p className="muted">No node has reported its cache yet.</p>}
      <div className="legend">
        <span>
          <span className="legend-swatch chart-cache" aria-hidden="true" /> Cache
        </span>
        <span>
          <span className="legend-swatch stacked-other" aria-hidden="true" /> Other use
        </span>
        <span>
          <span className="legend-swatch chart-free" aria-hidden="true" /> Free
        </span>
      </div>
    </>
  );
}
