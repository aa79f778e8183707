const tones: Record<string, string> = {
  online: 'badge-ok',
  offline: 'badge-warn',
  revoked: 'badge-muted',
  follow: 'badge-info',
  frozen: 'badge-muted',
};

/** A small coloured word: node presence, pin mode. */
export function StatusBadge({ value, label }: { value: string; label?: string }) {
  return <span className={`badge ${tones[value] ?? 'badge-muted'}`}>{label ?? value}</span>;
}
