// The overview's headline numbers, its cache chart and its first-run checklist, each one SQL
// aggregate over the fleet: nodes online and in sync, the fleet's disk and cache totals with the
// few nodes whose caches are largest (never one bar per node), and which first steps are done.
import type { ServiceDeps } from '../deps.ts';
import { isOffline, servedPins } from './served-sql.ts';

/** The nodes the cache chart names. */
export const cacheTopCount = 10;

export interface FleetTotals {
  nodes: number;
  online: number;
  /** Nodes serving at least one pinned image, and those of them holding every one. */
  pinnedNodes: number;
  inSync: number;
  /** Nodes whose agent reported disk facts, and their sums. */
  reporting: number;
  cacheBytes: number;
  diskTotalBytes: number;
  diskFreeBytes: number;
}

export async function fleetTotals(deps: ServiceDeps, now = new Date()): Promise<FleetTotals> {
  const [row] = await deps.db.$queryRaw<
    { nodes: bigint; online: bigint; pinned: bigint; missing: bigint; reporting: bigint; cache: number | null; total: number | null; free: number | null }[]
  >`
    WITH wanted AS (SELECT DISTINCT node_id, digest FROM (${servedPins}) s),
    missing AS (
      SELECT DISTINCT w.node_id FROM wanted w
      LEFT JOIN node_images ni ON ni.node_id = w.node_id AND ni.digest = w.digest WHERE ni.node_id IS NULL
    )
    SELECT
      (SELECT COUNT(*) FROM nodes n WHERE n.revoked_at IS NULL) AS nodes,
      (SELECT COUNT(*) FROM nodes n WHERE n.revoked_at IS NULL AND NOT ${isOffline(now)}) AS online,
      (SELECT COUNT(DISTINCT node_id) FROM wanted) AS pinned,
      (SELECT COUNT(*) FROM missing) AS missing,
      COUNT(*) FILTER (WHERE n.facts #> '{disk,totalBytes}' IS NOT NULL) AS reporting,
      SUM((n.facts #>> '{cache,bytes}')::float8) AS cache,
      SUM((n.facts #>> '{disk,totalBytes}')::float8) AS total,
      SUM((n.facts #>> '{disk,freeBytes}')::float8) AS free
    FROM nodes n WHERE n.revoked_at IS NULL`;
  const pinnedNodes = Number(row?.pinned ?? 0);
  return {
    nodes: Number(row?.nodes ?? 0),
    online: Number(row?.online ?? 0),
    pinnedNodes,
    inSync: pinnedNodes - Number(row?.missing ?? 0),
    reporting: Number(row?.reporting ?? 0),
    cacheBytes: row?.cache ?? 0,
    diskTotalBytes: row?.total ?? 0,
    diskFreeBytes: row?.free ?? 0,
  };
}

export interface CacheUse {
  nodeId: string;
  node: string;
  cacheBytes: number;
  diskFreeBytes: number;
  diskTotalBytes: number;
}

/** The nodes with the largest caches, largest first (ties by name, so the order never swaps). */
export async function cacheTop(deps: ServiceDeps): Promise<CacheUse[]> {
  const rows = await deps.db.$queryRaw<{ id: string; name: string; cache: number | null; free: number | null; total: number | null }[]>`
    SELECT id::text, name, (facts #>> '{cache,bytes}')::float8 AS cache, (facts #>> '{disk,freeBytes}')::float8 AS free, (facts #>> '{disk,totalBytes}')::float8 AS total
    FROM nodes WHERE revoked_at IS NULL AND facts #> '{cache,bytes}' IS NOT NULL
    ORDER BY (facts #>> '{cache,bytes}')::float8 DESC, name, id
    LIMIT ${cacheTopCount}`;
  return rows.map((r) => ({ nodeId: r.id, node: r.name, cacheBytes: r.cache ?? 0, diskFreeBytes: r.free ?? 0, diskTotalBytes: r.total ?? 0 }));
}

export const checklistSteps = ['registry', 'image', 'project', 'pin'] as const;
export type ChecklistStep = (typeof checklistSteps)[number];

export interface Checklist {
  steps: { step: ChecklistStep; done: boolean }[];
  /** A project to pin in (the first by name), for the last step's link. */
  firstProjectId: string | null;
  complete: boolean;
}

/**
 * A new fleet's first steps, each ticked off by what exists: a registry; an image known to the
 * fleet (a tag the registry watch recorded, a pin, or an image a node holds); a project; a pin.
 */
export async function firstRunChecklist(deps: ServiceDeps): Promise<Checklist> {
  const [row] = await deps.db.$queryRaw<{ registry: boolean; image: boolean; pin: boolean; project: string | null }[]>`
    SELECT EXISTS (SELECT 1 FROM registries) AS registry,
           EXISTS (SELECT 1 FROM tag_records) OR EXISTS (SELECT 1 FROM pins) OR EXISTS (SELECT 1 FROM node_images) AS image,
           EXISTS (SELECT 1 FROM pins) AS pin,
           (SELECT id::text FROM projects ORDER BY name, id LIMIT 1) AS project`;
  const done: Record<ChecklistStep, boolean> = { registry: !!row?.registry, image: !!row?.image, project: !!row?.project, pin: !!row?.pin };
  const steps = checklistSteps.map((step) => ({ step, done: done[step] }));
  return { steps, firstProjectId: row?.project ?? null, complete: steps.every((s) => s.done) };
}
