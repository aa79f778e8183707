import { formatBytes, percent } from '../../lib/format.ts';

/** A bar nearly full says so in words as well as colour. */
const highPercent = 90;

const legends = {
  disk: { used: 'Used on the disk', free: 'Free' },
  cache: { used: 'Image cache', free: 'Quota left' },
} as const;

/**
 * Used against total (disk, cache quota) as a small bar with the figures beside it. The disk has
 * its own colour (the overview's blue means "image cache"), and each bar a legend naming its colours.
 */
export function UsageBar({ used, total, label, detail, kind }: { used: number; total: number; label: string; detail: string; kind: 'disk' | 'cache' }) {
  const value = Math.min(100, percent(used, total));
  const high = value >= highPercent;
  return (
    <div className={`usage usage-${kind}${high ? ' usage-high' : ''}`} data-usage={kind}>
      <div
        className="usage-track"
        role="meter"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={value}
        aria-valuetext={`${value}% used (${formatBytes(used)} of ${formatBytes(total)})${high ? ', almost full' : ''}`}
      >
        <div className="usage-fill" style={{ width: `${value}%` }} />
      </div>
      <div className="usage-legend">
        <span>
          <span className="legend-swatch swatch-used" aria-hidden="true" /> {legends[kind].used}
          {high ? ' (almost full)' : ''}
        </span>
        <span>
          <span className="legend-swatch swatch-free" aria-hidden="true" /> {legends[kind].free}
        </span>
      </div>
      <div className="small muted">{detail}</div>
    </div>
  );
}
