// Human output of `cider fleet`: aligned tables, sizes and times in plain words, and list
// reading that follows cursors up to a bounded total.
import { formatBytes } from '@cider/oci';
import { FleetError } from './errors.ts';

/** Columns padded to their widest cell; the header row first. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

export const size = (bytes: number | null | undefined): string => (bytes === null || bytes === undefined ? '-' : formatBytes(bytes));

export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return 'never';
  const seconds = Math.max(0, (now - Date.parse(iso)) / 1000);
  if (seconds < 90) return 'just now';
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 129600) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} d ago`;
}

export const short = (digest: string | null | undefined): string => (digest ? digest.slice(0, 19) : '-');

export function percent(done: number, total: number | null): string {
  if (!total) return done ? size(done) : '-';
  return `${Math.min(100, Math.floor((done / total) * 100))}% of ${size(total)}`;
}

export const labelsText = (labels: Record<string, string>): string => Object.entries(labels).map(([k, v]) => (v ? `${k}=${v}` : k)).join(',') || '-';

/** The most a list command reads, whatever --limit says: past it, filter instead. */
export const listCap = 5000;

export function parseLimit(value: string | undefined, fallback = 100): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > listCap) throw new FleetError('USAGE', `--limit ${value}: give a whole number from 1 to ${listCap}.`);
  return n;
}

export interface Listed<T> {
  items: T[];
  /** Where the next page starts, when more items exist than were read. */
  nextCursor: string | null;
}

/** Reads pages until `limit` items or the last page, asking each page for at most `pageMax`. */
export async function readPages<T>(limit: number, pageMax: number, page: (cursor: string | undefined, size: number) => Promise<Listed<T>>): Promise<Listed<T>> {
  const items: T[] = [];
  let cursor: string | undefined;
  for (;;) {
    const got = await page(cursor, Math.min(pageMax, limit - items.length));
    items.push(...got.items.slice(0, limit - items.length));
    if (!got.nextCursor || items.length >= limit) return { items, nextCursor: got.nextCursor };
    cursor = got.nextCursor;
  }
}

/** The line under a table cut by --limit. */
export const moreLine = (listed: Listed<unknown>, what: string): string => (listed.nextCursor ? `\n(more ${what} than the ${listed.items.length} shown: raise --limit or filter)` : '');

export function parseDuration(value: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?$/.exec(value.trim());
  if (!match) throw new FleetError('USAGE', `--timeout ${value}: give a duration such as 90s, 30m or 2h.`);
  const n = Number(match[1]);
  const unit = match[2] ?? 's';
  const ms = unit === 'ms' ? n : unit === 's' ? n * 1000 : unit === 'h' ? n * 3_600_000 : n * 60_000;
  if (ms < 1000 || ms > 7 * 24 * 3_600_000) throw new FleetError('USAGE', `--timeout ${value}: give between 1 s and 7 days.`);
  return ms;
}
