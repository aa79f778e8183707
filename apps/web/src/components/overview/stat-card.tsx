export function StatCard({ label, value, detail, tone }: { label: string; value: string; detail?: string; tone?: 'ok' | 'warn' }) {
  return (
    <div className={`card stat ${tone ? `stat-${tone}` : ''}`}>
      <div className="stat-label">{label}</div>
      <div className="stat-value">{value}</div>
      {detail ? <div className="stat-detail muted">{detail}</div> : null}
    </div>
  );
}
