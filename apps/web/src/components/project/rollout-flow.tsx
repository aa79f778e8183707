'use client';
// How one pinned image reached the project's Macs: registry egress against what the same pulls
// would have taken from the registry without peers (image size × pulls), and who fed whom as a
// flow chart: sources (the registry, a mirror, Macs) on the left, the Macs that received on the
// right, one band per flow as thick as its bytes. Plain SVG, like the cache chart. The server
// sends at most its cap of flows (the largest); the chart says when there were more. Screen
// readers get the chart's name and the same story in text: the egress and the top feeders.
import { useQuery } from '@tanstack/react-query';
import { useId } from 'react';
import { formatBytes, shortDigest } from '../../lib/format.ts';
import { useTRPC, type RouterOutputs } from '../../trpc/react.ts';
import { QueryState } from '../ui/query-state.tsx';

type Flow = RouterOutputs['projects']['rolloutFlow'];

const rowHeight = 20;
const headHeight = 26;
const labelWidth = 200;
const gap = 300;
const width = labelWidth * 2 + gap + 24;
const maxStroke = 12;

function kindOf(id: string): 'registry' | 'mirror' | 'peers' {
  return id === 'registry' || id === 'mirror' ? id : 'peers';
}

/** A node's name, or what the chart calls a source that is not a node (or a node since removed). */
function nameOf(flow: Flow, id: string): string {
  if (id === 'registry') return 'registry';
  if (id === 'mirror') return 'mirror';
  return flow.names[id] ?? `removed node ${id.slice(0, 8)}`;
}

function percentText(ratio: number): string {
  const value = ratio * 100;
  return `${value > 0 && value < 1 ? value.toFixed(1) : Math.round(value)}%`;
}

/** The egress line and its bar: what the registry served against a rollout without peers. */
function Egress({ flow }: { flow: Flow }) {
  if (flow.withoutPeersBytes === null || flow.egressRatio === null) {
    return <p className="muted">Registry egress {formatBytes(flow.registryBytes)} (the image size is not known yet).</p>;
  }
  const width = Math.min(100, flow.egressRatio * 100);
  const text = `Registry egress ${formatBytes(flow.registryBytes)} of ${formatBytes(flow.withoutPeersBytes)} without peers (${percentText(flow.egressRatio)})`;
  return (
    <div className="egress" data-egress-ratio={flow.egressRatio.toFixed(4)}>
      <p className="strong">{text}</p>
      <div className="usage-track egress-track" role="meter" aria-label="Registry egress against a rollout without peers" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(width)} aria-valuetext={text}>
        <div className="usage-fill source-registry" style={{ width: `${width}%` }} />
      </div>
      <p className="small muted">
        {flow.pulls} {flow.pulls === 1 ? 'pull' : 'pulls'} on {flow.pulledNodes} of {flow.nodes} {flow.nodes === 1 ? 'node' : 'nodes'} ({formatBytes(flow.imageBytes)} each)
        {' · '}
        {formatBytes(flow.peerBytes)} from peers · {formatBytes(flow.mirrorBytes)} from mirrors · {flow.origins} {flow.origins === 1 ? 'origin' : 'origins'}
      </p>
    </div>
  );
}

/** Sources left, receivers right, a band per flow. */
function FlowChart({ flow, labelId, summaryId }: { flow: Flow; labelId: string; summaryId: string }) {
  const sent = new Map<string, number>();
  const received = new Map<string, number>();
  for (const edge of flow.edges) {
    sent.set(edge.from, (sent.get(edge.from) ?? 0) + edge.bytes);
    received.set(edge.to, (received.get(edge.to) ?? 0) + edge.bytes);
  }
  // The registry and mirror on top, then Macs by what they sent; receivers by what they got.
  const rank = (id: string) => (id === 'registry' ? 0 : id === 'mirror' ? 1 : 2);
  const sources = [...sent.keys()].sort((a, b) => rank(a) - rank(b) || sent.get(b)! - sent.get(a)! || a.localeCompare(b));
  const receivers = [...received.keys()].sort((a, b) => received.get(b)! - received.get(a)! || a.localeCompare(b));
  const y = (index: number) => headHeight + index * rowHeight + rowHeight / 2;
  const sourceY = new Map(sources.map((id, i) => [id, y(i)]));
  const receiverY = new Map(receivers.map((id, i) => [id, y(i)]));
  const height = headHeight + Math.max(sources.length, receivers.length) * rowHeight + 6;
  const largest = Math.max(1, ...flow.edges.map((e) => e.bytes));
  const left = labelWidth;
  const right = labelWidth + gap;
  return (
    <div className="flow-scroll">
      <svg
        className="chart flow-chart"
        role="img"
        aria-labelledby={labelId}
        aria-describedby={summaryId}
        viewBox={`0 0 ${width} ${height}`}
        width="100%"
        preserveAspectRatio="xMinYMin meet"
        data-edges={flow.edges.length}
        data-sources={sources.length}
        data-receivers={receivers.length}
      >
        <text x={left - 8} y={14} textAnchor="end" className="chart-value">
          sent
        </text>
        <text x={right + 8} y={14} className="chart-value">
          received
        </text>
        <g className="flow-edges">
          {flow.edges.map((edge) => {
            const y1 = sourceY.get(edge.from)!;
            const y2 = receiverY.get(edge.to)!;
            const middle = (left + right) / 2;
            const stroke = Math.max(1, (edge.bytes / largest) * maxStroke);
            return (
              <path
                key={`${edge.from} ${edge.to}`}
                className={`flow-edge source-${kindOf(edge.from)}`}
                d={`M ${left} ${y1} C ${middle} ${y1}, ${middle} ${y2}, ${right} ${y2}`}
                strokeWidth={stroke}
                data-from={nameOf(flow, edge.from)}
                data-to={nameOf(flow, edge.to)}
                data-bytes={edge.bytes}
              >
                <title>{`${nameOf(flow, edge.from)} → ${nameOf(flow, edge.to)}: ${formatBytes(edge.bytes)}`}</title>
              </path>
            );
          })}
        </g>
        <g className="flow-sources">
          {sources.map((id) => (
            <g key={id} data-source={nameOf(flow, id)}>
              <title>{`${nameOf(flow, id)} sent ${formatBytes(sent.get(id)!)}`}</title>
              <rect x={left - 4} y={sourceY.get(id)! - rowHeight / 2 + 3} width={4} height={rowHeight - 6} className={`source-${kindOf(id)}`} />
              <text x={left - 10} y={sourceY.get(id)!} textAnchor="end" dominantBaseline="middle" className={id === 'registry' || id === 'mirror' ? 'chart-label strong' : 'chart-label'}>
                {nameOf(flow, id)} · {formatBytes(sent.get(id)!)}
              </text>
            </g>
          ))}
        </g>
        <g className="flow-receivers">
          {receivers.map((id) => (
            <g key={id} data-receiver={nameOf(flow, id)}>
              <title>{`${nameOf(flow, id)} received ${formatBytes(received.get(id)!)}`}</title>
              <rect x={right} y={receiverY.get(id)! - rowHeight / 2 + 3} width={4} height={rowHeight - 6} className="flow-receiver" />
              <text x={right + 10} y={receiverY.get(id)!} dominantBaseline="middle" className="chart-label">
                {nameOf(flow, id)}
              </text>
            </g>
          ))}
        </g>
      </svg>
    </div>
  );
}

/** One pin's distribution on the project's nodes. */
export function RolloutFlow({ projectId, digest, reference }: { projectId: string; digest: string; reference: string }) {
  const trpc = useTRPC();
  const query = useQuery(trpc.projects.rolloutFlow.queryOptions({ projectId, digest }));
  const labelId = useId();
  const summaryId = useId();
  const flow = query.data;
  const title = `Who fed whom: ${reference}`;
  return (
    <section className="subsection rollout-flow" aria-labelledby={labelId} data-pin={reference}>
      <h3 id={labelId}>
        {title} <code className="small">{shortDigest(digest)}</code>
      </h3>
      {!flow ? (
        <QueryState isPending={query.isPending} error={query.error} what="the distribution" />
      ) : flow.pulls === 0 ? (
        <p className="muted">No pull of this image has finished with its sources reported yet.</p>
      ) : (
        <>
          <Egress flow={flow} />
          <FlowChart flow={flow} labelId={labelId} summaryId={summaryId} />
          <div className="legend" aria-hidden="true">
            <span>
              <span className="legend-swatch source-registry" /> Registry
            </span>
            <span>
              <span className="legend-swatch source-mirror" /> Mirror
            </span>
            <span>
              <span className="legend-swatch source-peers" /> Peers
            </span>
          </div>
          <p id={summaryId} className="small flow-summary">
            {flow.cut ? `Showing the ${flow.edges.length} largest of ${flow.edgeCount} flows. ` : `${flow.edgeCount} ${flow.edgeCount === 1 ? 'flow' : 'flows'}. `}
            Top feeders: {flow.topFeeders.map((f) => `${nameOf(flow, f.id)} ${formatBytes(f.bytes)}`).join(', ')}.
          </p>
        </>
      )}
    </section>
  );
}
