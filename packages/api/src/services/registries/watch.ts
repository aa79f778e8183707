// The registry watcher: re-resolves every pinned tag. A `follow` pin whose tag moved upstream
// takes the new digest and rolls it out; a `frozen` pin keeps its digest and raises an alert
// (driftDigest); on a registry marked "immutable tags" any move is flagged as well, and every tag
// of the repositories pinned there is recorded, so a move of any of them (pinned or not, pushed by
// any tool) lands in the audit log as `tag.moved`.
import type { Pin, Registry } from '@cider/db';
import { isReferrersTag } from '@cider/oci';
import { recordAudit } from '../audit/record.ts';
import { systemActor, type ServiceDeps } from '../deps.ts';
import { clientFor, fromOciError } from './registries.ts';

export interface WatchSummary {
  tagsChecked: number;
  moved: { pinId: string; reference: string; from: string; to: string; mode: 'follow' | 'frozen' }[];
  /** Tags that moved on registries with immutable tags. */
  immutableViolations: { registry: string; reference: string; from: string; to: string }[];
  errors: { registry: string; reference: string; error: string }[];
}

/** Tags looked at per repository and pass; the rest wait for the next pass (oldest checked first). */
const maxTagsPerRepository = 500;

type PinWithRegistry = Pin & { registry: Registry };

/** Resolves each distinct (registry, repository, tag) once and applies the result to its pins. */
export async function watchRegistries(deps: ServiceDeps, options: { registryId?: string } = {}): Promise<WatchSummary> {
  const pins = (await deps.db.pin.findMany({
    where: options.registryId ? { registryId: options.registryId } : {},
    include: { registry: true },
  })) as PinWithRegistry[];
  const groups = new Map<string, PinWithRegistry[]>();
  for (const pin of pins) {
    const key = `${pin.registryId} ${pin.repository}:${pin.tag}`;
    groups.set(key, [...(groups.get(key) ?? []), pin]);
  }
  const summary: WatchSummary = { tagsChecked: 0, moved: [], immutableViolations: [], errors: [] };
  const clients = new Map<string, ReturnType<typeof clientFor>>();
  try {
    for (const group of groups.values()) {
      const { registry, repository, tag } = group[0]!;
      let client = clients.get(registry.id);
      if (!client) clients.set(registry.id, (client = clientFor(deps, registry)));
      let current: string;
      try {
        current = (await client.repository(registry.host, repository).resolve(tag)).digest;
      } catch (error) {
        summary.errors.push({ registry: registry.host, reference: group[0]!.reference, error: fromOciError(error, 'resolving').message });
        continue;
      }
      summary.tagsChecked++;
      for (const pin of group) {
        const moved = await applyResolution(deps, pin, current);
        if (moved) summary.moved.push({ pinId: pin.id, reference: pin.reference, from: pin.digest, to: current, mode: pin.mode });
      }
    }
    const watched = new Map<string, { registry: Registry; repository: string }>();
    for (const pin of pins) if (pin.registry.immutableTags) watched.set(`${pin.registryId} ${pin.repository}`, { registry: pin.registry, repository: pin.repository });
    for (const { registry, repository } of watched.values()) {
      let client = clients.get(registry.id);
      if (!client) clients.set(registry.id, (client = clientFor(deps, registry)));
      await watchRepositoryTags(deps, client, registry, repository, summary);
    }
  } finally {
    for (const client of clients.values()) await client.close();
  }
  return summary;
}

/** Applies what a tag resolves to now; returns whether the tag had moved for this pin. */
async function applyResolution(deps: ServiceDeps, pin: PinWithRegistry, current: string): Promise<boolean> {
  if (current === pin.digest) {
    // Back where it was pinned (or never moved): a stale drift alert is cleared.
    if (pin.driftDigest) {
      await deps.db.pin.update({ where: { id: pin.id }, data: { driftDigest: null } });
      await deps.events.publish({ type: 'pin.updated', projectId: pin.projectId, pinId: pin.id });
    }
    return false;
  }
  const immutableNote = pin.registry.immutableTags ? { immutableTagsViolated: true } : {};
  if (pin.mode === 'follow') {
    await deps.db.$transaction(async (tx) => {
      const updated = await tx.pin.update({ where: { id: pin.id }, data: { digest: current, driftDigest: null, resolvedAt: new Date() } });
      await recordAudit(tx, systemActor, 'pin.tag-moved', { type: 'pin', id: pin.id }, { digest: pin.digest, reference: pin.reference }, { digest: updated.digest, reference: pin.reference, mode: 'follow', ...immutableNote });
    });
    await deps.queues.add('reconcile', { scope: 'project', id: pin.projectId, reason: `tag ${pin.reference} moved` });
  } else {
    if (pin.driftDigest === current) return true; // already alerted
    await deps.db.$transaction(async (tx) => {
      await tx.pin.update({ where: { id: pin.id }, data: { driftDigest: current } });
      await recordAudit(tx, systemActor, 'pin.drift', { type: 'pin', id: pin.id }, { digest: pin.digest, reference: pin.reference }, { tagNowPointsTo: current, mode: 'frozen', ...immutableNote });
    });
  }
  await deps.events.publish({ type: 'pin.updated', projectId: pin.projectId, pinId: pin.id });
  return true;
}

/**
 * Every tag of one repository on a registry with immutable tags, against what it pointed to last
 * time: a new tag is recorded, a moved one is flagged (audit `tag.moved`) and recorded anew.
 */
async function watchRepositoryTags(deps: ServiceDeps, client: ReturnType<typeof clientFor>, registry: Registry, repository: string, summary: WatchSummary): Promise<void> {
  const repo = client.repository(registry.host, repository);
  let tags: string[];
  try {
    // Referrers fallback tags move by design each time something is attached.
    tags = (await repo.listTags()).filter((tag) => !isReferrersTag(tag));
  } catch (error) {
    summary.errors.push({ registry: registry.host, reference: `${registry.host}/${repository}`, error: fromOciError(error, 'listing tags').message });
    return;
  }
  const known = new Map((await deps.db.tagRecord.findMany({ where: { registryId: registry.id, repository } })).map((r) => [r.tag, r]));
  // Tags never seen first, then the ones checked longest ago.
  const order = [...tags].sort((a, b) => (known.get(a)?.checkedAt.getTime() ?? 0) - (known.get(b)?.checkedAt.getTime() ?? 0)).slice(0, maxTagsPerRepository);
  for (const tag of order) {
    let digest: string;
    try {
      digest = (await repo.resolve(tag)).digest;
    } catch (error) {
      summary.errors.push({ registry: registry.host, reference: `${registry.host}/${repository}:${tag}`, error: fromOciError(error, 'resolving').message });
      continue;
    }
    summary.tagsChecked++;
    const record = known.get(tag);
    const now = new Date();
    const where = { registryId_repository_tag: { registryId: registry.id, repository, tag } };
    if (!record) {
      await deps.db.tagRecord.upsert({ where, create: { registryId: registry.id, repository, tag, digest, checkedAt: now }, update: { checkedAt: now } });
      continue;
    }
    if (record.digest === digest) {
      await deps.db.tagRecord.update({ where, data: { checkedAt: now } });
      continue;
    }
    const reference = `${registry.host}/${repository}:${tag}`;
    await deps.db.$transaction(async (tx) => {
      await tx.tagRecord.update({ where, data: { digest, checkedAt: now } });
      await recordAudit(tx, systemActor, 'tag.moved', { type: 'registry', id: registry.id }, { reference, digest: record.digest }, { reference, digest, immutableTagsViolated: true });
    });
    summary.immutableViolations.push({ registry: registry.host, reference, from: record.digest, to: digest });
    await deps.events.publish({ type: 'registry.updated', registryId: registry.id });
  }
}
