// Small trend charts in plain SVG: bytes synced per day (columns), a project's convergence over
// time (a step line of the share of its nodes holding every pinned image), and a table of
// rollout durations. Each chart has a name and description for screen readers, and its numbers
// in a table beside it (folded away under "Show the numbers").
import { formatBytes, shortDigest } from '../../lib/format.ts';
import type { RouterOutputs } from '../../trpc/react.ts';
import { formatDuration } from './durations.ts';

type Days = RouterOutputs['fleet']['overview']['bytesPerDay'];
type Rollouts = RouterOutputs['fleet']['overview']['recentRollouts'];
type Convergence = RouterOutputs['trends']['project']['convergence'];

/** "26 Nov, 16:27 UTC": enough to place a rollout, on one line. */
function shortTime(at: Date | string): string {
  return `${new Date(at).toLocaleString('en-GB', { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', timeZone: 'UTC' })} UTC`;
}

const width = 560;
const height = 140;
const pad = { top: 10, right: 10, bottom: 22, left: 10 };

export function BytesPerDayChart({ days }: { days: Days }) {
  const largest = Math.max(1, ...days.map((d) => d.bytes));
  const slot = (width - pad.left - pad.right) / Math.max(1, days.length);
  const plot = height - pad.top - pad.bottom;
  const total = days.reduce((sum, d) => sum + d.bytes, 0);
  const description = `${formatBytes(total)} over ${days.length} days; the most in a day ${formatBytes(Math.max(0, ...days.map((d) => d.bytes)))}.`;
  return (
    <figure className="trend">
      <svg className="chart trend-chart" role="img" aria-labelledby="bytes-day-title bytes-day-desc" viewBox={`0 0 ${width} ${height}`} width="100%">
        <title id="bytes-day-title">Bytes synced per day</title>
        <desc id="bytes-day-desc">{description}</desc>
        <line x1={pad.left} x2={width - pad.right} y1={height - pad.bottom} y2={height - pad.bottom} className="chart-axis" />
        {days.map((d, i) => {
          const h = (d.bytes / largest) * plot;
          const r = (d.registryBytes / largest) * plot;
          const x = pad.left + i * slot + slot * 0.15;
          return (
            <g key={d.day}>
              <title>{`${d.day}: ${formatBytes(d.bytes)} synced, ${formatBytes(d.registryBytes)} from the registry`}</title>
              <rect x={x} y={height - pad.bottom - h} width={slot * 0.7} height={h} className="chart-cache" />
              <rect x={x + slot * 0.2} y={height - pad.bottom - r} width={slot * 0.3} height={r} className="chart-registry" />
              {i % 2 === days.length % 2 ? null : (
                <text x={x + slot * 0.35} y={height - 6} textAnchor="middle" className="chart-label">
                  {d.day.slice(5)}
                </text>
              )}
            </g>
          );
        })}
      </svg>
      <figcaption className="legend">
        <span>
          <span className="legend-swatch chart-cache" aria-hidden="true" /> Delivered to nodes
        </span>
        <span>
          <span className="legend-swatch chart-registry" aria-hidden="true" /> Of it, from the registry
        </span>
        <span>{description}</span>
      </figcaption>
      <details>
        <summary>Show the numbers</summary>
        <table className="table" aria-label="Bytes synced per day">
          <thead>
            <tr>
              <th scope="col">Day (UTC)</th>
              <th scope="col" className="num">
                Synced
              </th>
              <th scope="col" className="num">
                From the registry
              </th>
            </tr>
          </thead>
          <tbody>
            {days.map((d) => (
              <tr key={d.day}>
                <td>{d.day}</td>
                <td className="num">{formatBytes(d.bytes)}</td>
                <td className="num">{formatBytes(d.registryBytes)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}

export function RolloutDurations({ rollouts, showProject }: { rollouts: Rollouts; showProject: boolean }) {
  if (rollouts.length === 0) return <p className="muted">No rollouts recorded yet: they are timed from a pin to the last node holding its image.</p>;
  return (
    <div className="ov-scroll">
    <table className="table trend-table" aria-label="Rollout durations">
      <thead>
        <tr>
          {showProject ? <th scope="col">Project</th> : null}
          <th scope="col">Image</th>
          <th scope="col">Started</th>
          <th scope="col" className="num">
            Nodes
          </th>
          <th scope="col" className="num">
            Took
          </th>
        </tr>
      </thead>
      <tbody>
        {rollouts.map((r) => (
          <tr key={`${r.projectId} ${r.digest} ${String(r.startedAt)}`} data-rollout-digest={r.digest}>
            {showProject ? <td>{r.project}</td> : null}
            <td className="ov-token" title={`${r.reference} (${r.digest})`}>
              <code>{r.reference}</code> <span className="muted small">{shortDigest(r.digest)}</span>
            </td>
            <td className="nowrap">{shortTime(r.startedAt)}</td>
            <td className="num">{r.nodes}</td>
            <td className="num" data-field="took">
              {r.seconds !== null ? formatDuration(r.seconds) : r.state === 'running' ? 'in flight' : 'not timed'}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
    </div>
  );
}

export function ConvergenceChart({ points, days, now }: { points: Convergence; days: number; now: number }) {
  if (points.length === 0) return <p className="muted">No samples yet: the control plane records this project&apos;s convergence every half minute.</p>;
  // From the first sample (at least an hour back), never more than `days`: a young project's
  // history fills the chart instead of a sliver at its right edge.
  const first = new Date(points[0]!.at).getTime();
  const start = Math.max(now - days * 86_400_000, Math.min(first, now - 3_600_000));
  const x = (at: number) => pad.left + ((at - start) / (now - start)) * (width - pad.left - pad.right);
  const plot = height - pad.top - pad.bottom;
  const share = (p: Convergence[number]) => (p.nodes > 0 ? p.holding / p.nodes : 1);
  const y = (s: number) => pad.top + (1 - s) * plot;
  // A step line: each sample holds until the next one, and the last one until now.
  let path = '';
  points.forEach((p, i) => {
    const px = x(new Date(p.at).getTime());
    const py = y(share(p));
    path += i === 0 ? `M${px},${py}` : `H${px}V${py}`;
  });
  path += `H${x(now)}`;
  const last = points[points.length - 1]!;
  const lowest = points.reduce((low, p) => (share(p) < share(low) ? p : low), points[0]!);
  const pct = (p: Convergence[number]) => `${Math.round(share(p) * 100)}%`;
  const description = `Now ${pct(last)} (${last.holding} of ${last.nodes} nodes hold every pinned image); lowest since ${shortTime(points[0]!.at)} ${pct(lowest)}.`;
  return (
    <figure className="trend">
      <svg className="chart trend-chart" role="img" aria-labelledby="convergence-title convergence-desc" viewBox={`0 0 ${width} ${height}`} width="100%">
        <title id="convergence-title">Share of nodes holding their pinned images</title>
        <desc id="convergence-desc">{description}</desc>
        <line x1={pad.left} x2={width - pad.right} y1={y(1)} y2={y(1)} className="chart-grid" />
        <line x1={pad.left} x2={width - pad.right} y1={y(0)} y2={y(0)} className="chart-axis" />
        <path d={path} className="chart-line" />
        <text x={pad.left} y={height - 6} className="chart-label">
          {formatDuration((now - start) / 1000)} ago
        </text>
        <text x={width - pad.right} y={height - 6} textAnchor="end" className="chart-label">
          now
        </text>
      </svg>
      <figcaption className="small" data-field="convergence">
        {description}
      </figcaption>
      <details>
        <summary>Show the numbers</summary>
        <table className="table" aria-label="Convergence samples">
          <thead>
            <tr>
              <th scope="col">When (UTC)</th>
              <th scope="col" className="num">
                Holding
              </th>
              <th scope="col" className="num">
                Share
              </th>
            </tr>
          </thead>
          <tbody>
            {points.map((p) => (
              <tr key={String(p.at)}>
                <td>{new Date(p.at).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'medium', timeZone: 'UTC' })}</td>
                <td className="num">
                  {p.holding} of {p.nodes}
                </td>
                <td className="num">{pct(p)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
