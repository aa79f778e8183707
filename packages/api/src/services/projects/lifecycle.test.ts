// A project's life after creation through the projects router, against real PostgreSQL and
// Redis: rename (case-insensitive unique), selector edits with a live preview, delete (unpins,
// leaves cached images alone), each audited with before -> after and announced as an event.
import { describe, expect, it } from 'vitest';
import { failure, invalid, useRouterHarness } from '../../../testing/test-context.ts';
import type { FleetEvent } from '../../events.ts';

const harness = useRouterHarness();

async function fleet() {
  const db = harness.deps.db;
  const team = await db.team.create({ data: { name: `Team ${Math.random().toString(36).slice(2, 8)}` } });
  const node = (name: string, labels: Record<string, string>, revoked = false) =>
    db.node.create({ data: { name, labels, secretHash: 'x'.repeat(64), state: 'online', lastSeenAt: new Date(), revokedAt: revoked ? new Date() : null } });
  return { team, node };
}

/** Events published while `run` runs. */
async function eventsDuring(run: () => Promise<unknown>): Promise<FleetEvent[]> {
  const seen: FleetEvent[] = [];
  const stop = await harness.hub.listen((event) => seen.push(event));
  try {
    await run();
    await new Promise((resolve) => setTimeout(resolve, 300));
  } finally {
    stop();
  }
  return seen;
}

describe('project lifecycle (real PostgreSQL, Redis)', () => {
  it('renames a project, refusing a name another project holds in any case, and audits before -> after', async () => {
    const admin = await harness.user('admin');
    const api = harness.caller(admin);
    const { team } = await fleet();
    const ios = await api.projects.create({ name: 'iOS CI', teamId: team.id, nodeSelector: '' });
    await expect(api.projects.create({ name: 'ios ci', teamId: team.id, nodeSelector: '' })).rejects.toEqual(failure('CONFLICT', /"iOS CI" already exists/));
    const web = await api.projects.create({ name: 'web-ci', teamId: team.id, nodeSelector: '' });

    await expect(api.projects.update({ projectId: web.id, name: 'IOS ci' })).rejects.toEqual(failure('CONFLICT', /"iOS CI" already exists/));
    await expect(api.projects.update({ projectId: web.id, name: 'x'.repeat(300) })).rejects.toEqual(invalid(/at most 63 characters/));
    await expect(api.projects.update({ projectId: web.id, name: '-dash' })).rejects.toEqual(failure('BAD_REQUEST', /Project names are/));
    // Changing only the case of its own name is allowed.
    expect(await api.projects.update({ projectId: ios.id, name: 'ios ci' })).toMatchObject({ name: 'ios ci' });
    const events = await eventsDuring(() => api.projects.update({ projectId: web.id, name: 'Web CI' }));
    expect(events).toContainEqual({ type: 'project.updated', projectId: web.id });

    const audit = await harness.deps.db.auditEvent.findFirstOrThrow({ where: { action: 'project.update', targetId: web.id } });
    expect(audit).toMatchObject({ actor: admin.email, before: { name: 'web-ci' }, after: { name: 'Web CI' } });
  });

  it('lets only admins rename, re-select or delete projects', async () => {
    const { team } = await fleet();
    const admin = await harness.user('admin');
    const project = await harness.caller(admin).projects.create({ name: 'guarded-ci', teamId: team.id, nodeSelector: '' });
    const member = await harness.user('member', { teams: { [team.id]: 'admin' } });
    const api = harness.caller(member);
    await expect(api.projects.update({ projectId: project.id, name: 'mine' })).rejects.toEqual(failure('FORBIDDEN'));
    await expect(api.projects.delete({ projectId: project.id })).rejects.toEqual(failure('FORBIDDEN'));
    expect(await harness.deps.db.project.findUniqueOrThrow({ where: { id: project.id } })).toMatchObject({ name: 'guarded-ci' });
  });

  it('previews the nodes a selector matches (count, first names, revoked nodes left out) and saves an edited selector', async () => {
    const { team, node } = await fleet();
    const pool = `pool-${Math.random().toString(36).slice(2, 8)}`;
    await node(`${pool}-b`, { pool, arch: 'arm64' });
    await node(`${pool}-a`, { pool, arch: 'arm64' });
    await node(`${pool}-x86`, { pool, arch: 'x86_64' });
    await node(`${pool}-gone`, { pool, arch: 'arm64' }, true);
    const admin = await harness.user('admin');
    const api = harness.caller(admin);

    const arm = await api.projects.previewSelector({ nodeSelector: `pool=${pool}, arch=arm64` });
    expect(arm).toMatchObject({ matching: 2, names: [`${pool}-a`, `${pool}-b`] });
    expect(arm.total).toBeGreaterThanOrEqual(3);
    expect((await api.projects.previewSelector({ nodeSelector: `pool=${pool}` })).matching).toBe(3);
    expect(await api.projects.previewSelector({ nodeSelector: 'pool=nowhere' })).toMatchObject({ matching: 0, names: [] });
    expect((await api.projects.previewSelector({ nodeSelector: '' })).matching).toBe(arm.total);
    await expect(api.projects.previewSelector({ nodeSelector: 'pool' })).rejects.toEqual(failure('BAD_REQUEST', /not a label selector term/));

    const project = await api.projects.create({ name: `${pool}-ci`, teamId: team.id, nodeSelector: `pool=${pool}` });
    // PostgreSQL keeps the terms in an order of its own.
    const saved = await api.projects.update({ projectId: project.id, nodeSelector: `pool=${pool}, arch=arm64` });
    expect(saved.nodeSelector).toBe(`arch=arm64, pool=${pool}`);
    expect((await api.projects.byId({ projectId: project.id })).nodeSelector).toBe(saved.nodeSelector);
    // The same terms in another order change nothing, so nothing is recorded.
    await api.projects.update({ projectId: project.id, nodeSelector: `pool=${pool},arch=arm64` });
    const audit = await harness.deps.db.auditEvent.findMany({ where: { action: 'project.update', targetId: project.id } });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ before: { nodeSelector: `pool=${pool}` }, after: { nodeSelector: saved.nodeSelector } });
    expect(audit[0]!.before).not.toHaveProperty('name');
  });

  it('deletes a project with its pins, audits what was unpinned, and leaves the images nodes hold', async () => {
    const { team, node } = await fleet();
    const admin = await harness.user('admin');
    const api = harness.caller(admin);
    const db = harness.deps.db;
    const registry = await db.registry.create({ data: { name: `reg-${team.id.slice(0, 6)}`, host: `reg-${team.id.slice(0, 6)}.example:5000` } });
    const name = `doomed-${team.id.slice(0, 6)}`;
    const project = await api.projects.create({ name, teamId: team.id, nodeSelector: '' });
    const digest = `sha256:${'a'.repeat(64)}`;
    const pin = await db.pin.create({
      data: { projectId: project.id, registryId: registry.id, reference: `${registry.host}/demo/macos:15.2`, repository: 'demo/macos', tag: '15.2', digest, resolvedAt: new Date() },
    });
    const mac = await node(`doomed-mac-${team.id.slice(0, 6)}`, {});
    await db.nodeImage.create({ data: { nodeId: mac.id, digest, size: 1024n, verifiedAt: new Date() } });

    const events = await eventsDuring(async () => expect(await api.projects.delete({ projectId: project.id })).toEqual({ name, unpinned: [pin.reference] }));
    expect(events).toEqual(expect.arrayContaining([{ type: 'project.updated', projectId: project.id }, { type: 'pin.updated', projectId: project.id, pinId: pin.id }]));
    expect(await db.project.count({ where: { id: project.id } })).toBe(0);
    expect(await db.pin.count({ where: { id: pin.id } })).toBe(0);
    expect(await db.nodeImage.count({ where: { nodeId: mac.id, digest } })).toBe(1);
    const audit = await db.auditEvent.findFirstOrThrow({ where: { action: 'project.delete', targetId: project.id } });
    expect(audit.before).toMatchObject({ name, team: team.name, nodeSelector: 'all nodes', pins: [{ reference: pin.reference, digest, mode: 'follow' }] });
    await expect(api.projects.delete({ projectId: project.id })).rejects.toEqual(failure('NOT_FOUND'));
  });
});
