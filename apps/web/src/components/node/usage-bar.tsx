import { formatBytes, percent } from '../../lib/format.ts';

/** Used against total (disk, cache quota) as a small bar with the figures beside it. */
export function UsageBar({ used, total, label, detail }: { used: number; total: number; label: string; detail: string }) {
  const value = Math.min(100, percent(used, total));
  return (
    <div className="usage">
      <div
        className={value >= 90 ? 'usage-track usage-high' : 'usage-track'}
        role="meter"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={value}
        aria-valuetext={`${value}% used (${formatBytes(used)} of ${formatBytes(total)})`}
      >
        <div className="usage-fill" style={{ width: `${value}%` }} />
      </div>
      <div className="small muted">{detail}</div>
    </div>
  );
}
