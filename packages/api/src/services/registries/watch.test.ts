// The registry watcher on a registry with immutable tags: every tag of a pinned repository is
// recorded, and any that moves (pinned or not, pushed by any tool) is flagged in the audit log.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useTestDatabase } from '@cider/db/testing';
import { attachReferrer, pushArtifact, RegistryClient } from '@cider/oci';
import { uniqueRepository, useRedisPrefix } from '@cider/services/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createServiceDeps } from '../../deps-factory.ts';
import { setPin } from '../projects/pins.ts';
import { createProject } from '../projects/projects.ts';
import { createRegistry, listRegistries } from './registries.ts';
import { watchRegistries } from './watch.ts';

const database = useTestDatabase();
const redis = useRedisPrefix();
const actor = { label: 'admin@example.com' };

describe('registry watch on immutable tags (real PostgreSQL, Redis, docker-registry)', () => {
  let work: string;
  let services: ReturnType<typeof createServiceDeps>;
  let client: RegistryClient;
  const host = () => inject('registryHost');

  async function push(repository: string, tag: string, text: string): Promise<string> {
    const file = join(work, `${tag}-${text}`);
    await writeFile(file, text);
    return (await pushArtifact({ client, reference: `${host()}/${repository}:${tag}`, files: [{ path: file }] })).digest;
  }

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cider-watch-'));
    services = createServiceDeps({ databaseUrl: database.url, redisUrl: redis.url, redisPrefix: redis.prefix, secretKey: randomBytes(32).toString('base64') });
    client = new RegistryClient();
  });
  afterAll(async () => {
    await client.close();
    await services?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('records every tag of a pinned repository, then flags the ones that move', async () => {
    const repository = uniqueRepository('immutable');
    const pinned = await push(repository, '15.2', 'first');
    const other = await push(repository, '15.1', 'older');
    const registry = await createRegistry(services.deps, actor, { name: 'immutable', host: host(), plainHttp: true, authKind: 'none', immutableTags: true });
    const team = await services.deps.db.team.create({ data: { name: 'Platform' } });
    const project = await createProject(services.deps, actor, { name: 'ci', teamId: team.id, nodeSelector: {} });
    await setPin(services.deps, actor, { projectId: project.id, reference: `${host()}/${repository}:15.2`, mode: 'frozen' });

    // First pass: a baseline, nothing flagged.
    const first = await watchRegistries(services.deps);
    expect(first.immutableViolations).toEqual([]);
    const records = await services.deps.db.tagRecord.findMany({ where: { registryId: registry.id }, orderBy: { tag: 'asc' } });
    expect(records.map((r) => [r.tag, r.digest])).toEqual([
      ['15.1', other],
      ['15.2', pinned],
    ]);

    // Someone moves the unpinned tag with another tool: flagged, with before and after.
    const moved = await push(repository, '15.1', 'rebuilt');
    const second = await watchRegistries(services.deps);
    expect(second.immutableViolations).toEqual([{ registry: host(), reference: `${host()}/${repository}:15.1`, from: other, to: moved }]);
    const audit = await services.deps.db.auditEvent.findMany({ where: { action: 'tag.moved' } });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      actor: 'system',
      targetType: 'registry',
      targetId: registry.id,
      before: { reference: `${host()}/${repository}:15.1`, digest: other },
      after: { reference: `${host()}/${repository}:15.1`, digest: moved, immutableTagsViolated: true },
    });

    // The Registries page says so.
    expect((await listRegistries(services.deps)).find((r) => r.id === registry.id)?.movedTags).toMatchObject({ count: 1, lastReference: `${host()}/${repository}:15.1` });

    // A new tag is recorded, not flagged; a tag that stays put is not flagged again.
    await push(repository, '15.3', 'new');
    const third = await watchRegistries(services.deps);
    expect(third.immutableViolations).toEqual([]);
    expect(await services.deps.db.tagRecord.count({ where: { registryId: registry.id } })).toBe(3);
    expect(await services.deps.db.auditEvent.count({ where: { action: 'tag.moved' } })).toBe(1);

    // Attaching SBOMs moves the referrers fallback tag (distribution 2.8): bookkeeping, not a violation.
    const sbom = join(work, 'sbom.json');
    await writeFile(sbom, '{}');
    await attachReferrer({ client, subject: `${host()}/${repository}:15.2`, path: sbom, artifactType: 'application/spdx+json' });
    expect((await watchRegistries(services.deps)).immutableViolations).toEqual([]);
    await attachReferrer({ client, subject: `${host()}/${repository}:15.2`, path: sbom, artifactType: 'application/vnd.example.notes', annotations: { note: 'second' } });
    expect((await watchRegistries(services.deps)).immutableViolations).toEqual([]);
    expect(await services.deps.db.tagRecord.count({ where: { registryId: registry.id, tag: { startsWith: 'sha256-' } } })).toBe(0);

    // Registries without the policy are not listed at all.
    await services.deps.db.registry.update({ where: { id: registry.id }, data: { immutableTags: false } });
    await push(repository, '15.3', 'moved-again');
    expect((await watchRegistries(services.deps)).immutableViolations).toEqual([]);
  });
});
