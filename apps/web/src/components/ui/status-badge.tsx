const tones: Record<string, string> = {
  online: 'badge-ok',
  offline: 'badge-warn',
  revoked: 'badge-muted',
  follow: 'badge-info',
  frozen: 'badge-muted',
};

/** What a value reads as where the stored word is not what an admin would say. */
const words: Record<string, string> = {
  follow: 'follows tag',
};

/** A small coloured word: node presence, pin mode. */
export function StatusBadge({ value, label }: { value: string; label?: string }) {
  return <span className={`badge ${tones[value] ?? 'badge-muted'}`}>{label ?? words[value] ?? value}</span>;
}
