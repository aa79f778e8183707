// What nodes hold, as their agents report it.
import type { HeldImage } from '@cider/protocol';
import type { ServiceDeps } from '../deps.ts';

function imageData(image: HeldImage) {
  return {
    reference: image.reference ?? null,
    size: BigInt(Math.round(image.sizeBytes)),
    verifiedAt: new Date(image.verifiedAt),
    lastUsedAt: image.lastUsedAt ? new Date(image.lastUsedAt) : null,
  };
}

/** Adds or refreshes one image a node now holds. */
export async function replaceInventoryEntry(deps: ServiceDeps, nodeId: string, image: HeldImage): Promise<void> {
  const data = imageData(image);
  await deps.db.nodeImage.upsert({
    where: { nodeId_digest: { nodeId, digest: image.digest } },
    create: { nodeId, digest: image.digest, ...data },
    update: data,
  });
  await deps.events.publish({ type: 'node.inventory', nodeId });
}

/**
 * Replaces what a node holds with what its agent just reported. Sync jobs are not decided here:
 * the agent's sync.done decides "done" (and, when that report was lost, its next hello or a
 * reconcile, both through the sync job lifecycle).
 */
export async function replaceInventory(deps: ServiceDeps, nodeId: string, images: HeldImage[]): Promise<{ added: string[]; removed: string[] }> {
  const reported = new Map(images.map((i) => [i.digest, i]));
  const result = await deps.db.$transaction(async (tx) => {
    const current = await tx.nodeImage.findMany({ where: { nodeId } });
    const removed = current.filter((c) => !reported.has(c.digest)).map((c) => c.digest);
    const added = [...reported.keys()].filter((d) => !current.some((c) => c.digest === d));
    if (removed.length) await tx.nodeImage.deleteMany({ where: { nodeId, digest: { in: removed } } });
    for (const image of reported.values()) {
      const data = imageData(image);
      await tx.nodeImage.upsert({ where: { nodeId_digest: { nodeId, digest: image.digest } }, create: { nodeId, digest: image.digest, ...data }, update: data });
    }
    return { added, removed };
  });
  await deps.events.publish({ type: 'node.inventory', nodeId });
  return result;
}
