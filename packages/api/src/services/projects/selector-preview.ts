// The nodes a selector would match, for the project form to show while the admin types: a count
// and the first few names, asked of PostgreSQL (labels @> selector) so a fleet of thousands costs
// two small answers, not a node list.
import type { ServiceDeps } from '../deps.ts';
import type { Labels } from './projects.ts';

/** Names shown with the count. */
export const previewNames = 8;

export interface SelectorPreview {
  /** Nodes (not revoked) whose labels contain every term. */
  matching: number;
  /** Nodes not revoked, for "3 of 40". */
  total: number;
  /** The first matching names, alphabetically. */
  names: string[];
}

export async function previewSelector(deps: ServiceDeps, selector: Labels): Promise<SelectorPreview> {
  const wanted = JSON.stringify(selector);
  const [counts, names] = await Promise.all([
    deps.db.$queryRaw<{ matching: bigint; total: bigint }[]>`
      SELECT count(*) FILTER (WHERE labels @> ${wanted}::jsonb) AS matching, count(*) AS total
      FROM nodes WHERE revoked_at IS NULL`,
    deps.db.$queryRaw<{ name: string }[]>`
      SELECT name FROM nodes WHERE revoked_at IS NULL AND labels @> ${wanted}::jsonb ORDER BY name LIMIT ${previewNames}`,
  ]);
  return { matching: Number(counts[0]?.matching ?? 0), total: Number(counts[0]?.total ?? 0), names: names.map((n) => n.name) };
}
