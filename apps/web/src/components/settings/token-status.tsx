const tones: Record<string, string> = { active: 'badge-ok', expired: 'badge-warn', 'used-up': 'badge-warn', revoked: 'badge-muted' };

/** active / expired / used up / revoked, as a badge. */
export function TokenStatus({ status }: { status: string }) {
  return <span className={`badge ${tones[status] ?? 'badge-muted'}`}>{status.replace('-', ' ')}</span>;
}
