'use client';
// "How is the rollout going?": each pinned image still on its way, with nodes done / total,
// bytes done / total, the rate, an ETA and what the registry served against what was delivered.
// The server's figures are as of its last answer; live progress reports move the bytes and give
// the rate in between (live-rate.ts).
import Link from 'next/link';
import { formatBytes, percent, shortDigest } from '../../lib/format.ts';
import type { RouterOutputs } from '../../trpc/react.ts';
import { formatDuration } from './durations.ts';
import { useLiveRate } from './live-rate.ts';

type Rollouts = RouterOutputs['fleet']['overview']['rollouts'];
type Rollout = Rollouts['rollouts'][number];

function RolloutRow({ rollout }: { rollout: Rollout }) {
  const live = useLiveRate(rollout.digest);
  const held = (rollout.imageBytes ?? 0) * rollout.done;
  const bytesDone = held + Math.max(rollout.bytesDone - held, live.pulledBytes);
  const rate = live.bytesPerSecond ?? rollout.bytesPerSecond;
  const left = rollout.bytesTotal === null ? null : Math.max(0, rollout.bytesTotal - bytesDone);
  const eta = left !== null && rate > 0 ? formatDuration(left / rate) : null;
  const share = rollout.bytesTotal ? percent(bytesDone, rollout.bytesTotal) : percent(rollout.done, rollout.nodes);
  const summary = `${rollout.done} of ${rollout.nodes} nodes, ${rollout.bytesTotal === null ? formatBytes(bytesDone) : `${formatBytes(bytesDone)} of ${formatBytes(rollout.bytesTotal)}`}`;
  return (
    <tr data-rollout={rollout.pinId}>
      <td>
        <Link href={`/projects/${rollout.projectId}`}>{rollout.project}</Link>
        <div className="ov-token" title={`${rollout.reference} (${rollout.digest})`}>
          <code>{rollout.reference}</code>
        </div>
        <div className="muted small">{shortDigest(rollout.digest)}</div>
      </td>
      <td data-field="nodes">
        <strong>
          {rollout.done} / {rollout.nodes}
        </strong>{' '}
        nodes
        <div className="muted small">
          {rollout.fetching} fetching · {rollout.queued} waiting{rollout.offline ? ` · ${rollout.offline} offline` : ''}
        </div>
      </td>
      <td data-field="bytes">
        <div className="usage-track" role="meter" aria-label={`Rollout of ${rollout.reference} to ${rollout.project}`} aria-valuemin={0} aria-valuemax={100} aria-valuenow={share} aria-valuetext={summary}>
          <div className="usage-fill" style={{ width: `${share}%` }} />
        </div>
        <div className="small">
          {formatBytes(bytesDone)} of {rollout.bytesTotal === null ? 'an unknown size' : formatBytes(rollout.bytesTotal)}
        </div>
      </td>
      <td data-field="rate" className="num">
        {rate > 0 ? `${formatBytes(rate)}/s` : 'idle'}
        <div className="muted small">{eta ? `about ${eta} left` : rollout.fetching ? 'estimating…' : 'waiting for a pull'}</div>
      </td>
      <td data-field="egress" className="num">
        {rollout.deliveredBytes > 0 ? (
          <>
            {formatBytes(rollout.registryBytes)} of {formatBytes(rollout.deliveredBytes)}
            <div className="muted small">from the registry ({percent(rollout.registryBytes, rollout.deliveredBytes)}%)</div>
          </>
        ) : (
          <span className="muted">no finished pulls yet</span>
        )}
      </td>
    </tr>
  );
}

export function RolloutsInFlight({ rollouts, jobsInFlight, pinned }: { rollouts: Rollouts; jobsInFlight: number; pinned: boolean }) {
  return (
    <section className="card" aria-labelledby="rollouts-title">
      <h2 id="rollouts-title">Rollouts in flight</h2>
      {rollouts.total === 0 ? (
        <p className="muted">
          {pinned ? 'Every node holds what its projects pin.' : 'Nothing pinned yet: a pin on a project starts a rollout to the nodes it serves.'}
          {jobsInFlight ? ` ${jobsInFlight} sync jobs are still closing.` : ''}
        </p>
      ) : (
        <div className="ov-scroll">
          <table className="table rollouts-table" aria-label="Rollouts in flight">
            <thead>
              <tr>
                <th scope="col">Project and image</th>
                <th scope="col">Nodes done</th>
                <th scope="col">Bytes</th>
                <th scope="col" className="num">
                  Rate
                </th>
                <th scope="col" className="num">
                  Registry egress
                </th>
              </tr>
            </thead>
            <tbody>
              {rollouts.rollouts.map((rollout) => (
                <RolloutRow key={rollout.pinId} rollout={rollout} />
              ))}
            </tbody>
          </table>
          {rollouts.total > rollouts.rollouts.length ? (
            <p className="muted small">
              {rollouts.total - rollouts.rollouts.length} more rollouts in flight: see <Link href="/projects">projects</Link>.
            </p>
          ) : null}
        </div>
      )}
    </section>
  );
}
