// Horizontal bars, one per node: cache size against the free disk left beside it, on a scale
// shared by all nodes so they compare at a glance. Plain SVG keeps the bundle free of chart code.
import { formatBytes } from '../../lib/format.ts';

interface CacheUse {
  node: string;
  cacheBytes: number;
  diskFreeBytes: number;
}

const rowHeight = 28;
const labelWidth = 160;
const barWidth = 480;
const valueWidth = 220;

export function CacheChart({ nodes }: { nodes: CacheUse[] }) {
  if (nodes.length === 0) return <p className="muted">No nodes have enrolled yet.</p>;
  const scale = Math.max(1, ...nodes.map((n) => n.cacheBytes + n.diskFreeBytes));
  const height = nodes.length * rowHeight;
  return (
    <>
      <svg
        className="chart"
        role="img"
        aria-label="Cache size and free disk per node"
        viewBox={`0 0 ${labelWidth + barWidth + valueWidth} ${height}`}
        width="100%"
        preserveAspectRatio="xMinYMin meet"
      >
        {nodes.map((n, i) => {
          const y = i * rowHeight;
          const cacheWidth = (n.cacheBytes / scale) * barWidth;
          const freeWidth = (n.diskFreeBytes / scale) * barWidth;
          return (
            <g key={n.node} transform={`translate(0 ${y})`}>
              <title>{`${n.node}: cache ${formatBytes(n.cacheBytes)}, disk free ${formatBytes(n.diskFreeBytes)}`}</title>
              <text x={0} y={rowHeight / 2} dominantBaseline="middle" className="chart-label">
                {n.node}
              </text>
              <rect x={labelWidth} y={6} width={cacheWidth} height={rowHeight - 12} rx={3} className="chart-cache" />
              <rect x={labelWidth + cacheWidth} y={6} width={freeWidth} height={rowHeight - 12} rx={3} className="chart-free" />
              <text x={labelWidth + barWidth + 12} y={rowHeight / 2} dominantBaseline="middle" className="chart-value">
                {`${formatBytes(n.cacheBytes)} cache · ${formatBytes(n.diskFreeBytes)} free`}
              </text>
            </g>
          );
        })}
      </svg>
      <div className="legend">
        <span>
          <span className="legend-swatch chart-cache" aria-hidden="true" /> Cache
        </span>
        <span>
          <span className="legend-swatch chart-free" aria-hidden="true" /> Disk free
        </span>
      </div>
    </>
  );
}
