// The nodes holding an image (or, for an index, one of its manifests), a page at a time with a
// count: an image every node holds would otherwise list the whole fleet on its tag page.
import type { Prisma } from '@cider/db';
import type { ServiceDeps } from '../deps.ts';
import { nodeStatus } from '../fleet/overview.ts';

export interface HoldersQuery {
  /** The image's digest, and an index's manifest digests. */
  digests: string[];
  /** Part of a node's name, any case. */
  search?: string;
  /** By node name (the default), or by when the node last verified (or used) its copy. */
  sort?: HoldersSort;
  direction?: 'asc' | 'desc';
  offset?: number;
  limit: number;
}

export const holdersSorts = ['name', 'verified', 'used'] as const;
export type HoldersSort = (typeof holdersSorts)[number];

export async function imageHolders(deps: ServiceDeps, query: HoldersQuery) {
  const where: Prisma.NodeImageWhereInput = { digest: { in: query.digests } };
  const search = query.search?.trim();
  if (search) where.node = { name: { contains: search, mode: 'insensitive' } };
  const offset = Math.max(query.offset ?? 0, 0);
  const direction = query.direction ?? 'asc';
  const [total, rows] = await Promise.all([
    deps.db.nodeImage.count({ where }),
    deps.db.nodeImage.findMany({
      where,
      include: { node: { select: { name: true, state: true, lastSeenAt: true, revokedAt: true } } },
      // Ties (and never-used copies) fall back to name order, so rows never swap between pages.
      orderBy: [
        ...(query.sort === 'verified' ? [{ verifiedAt: direction }] : query.sort === 'used' ? [{ lastUsedAt: { sort: direction, nulls: 'last' as const } }] : []),
        { node: { name: query.sort === 'name' || !query.sort ? direction : 'asc' } },
        { digest: 'asc' as const },
      ],
      skip: offset,
      take: query.limit,
    }),
  ]);
  return {
    total,
    offset,
    rows: rows.map((h) => ({
      nodeId: h.nodeId,
      nodeName: h.node.name,
      nodeStatus: nodeStatus(h.node),
      digest: h.digest,
      size: Number(h.size),
      verifiedAt: h.verifiedAt,
      lastUsedAt: h.lastUsedAt,
    })),
  };
}
