// Durations as people say them ("45 s", "3 min", "1 h 20 min"), for rates, ETAs and rollout times.
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  const hours = Math.floor(s / 3600);
  const minutes = Math.round((s % 3600) / 60);
  if (hours >= 48) return `${Math.round(hours / 24)} days`;
  return minutes ? `${hours} h ${minutes} min` : `${hours} h`;
}
