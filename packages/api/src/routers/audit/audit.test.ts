// The audit log reader against real PostgreSQL and Redis: admins only, filters, stable keyset
// pages newest first, and redaction on the way out.
import { describe, expect, it } from 'vitest';
import { failure, invalid, leaks, storedSecrets, useRouterHarness } from '../../../testing/test-context.ts';

const harness = useRouterHarness();

const day = 86_400_000;

describe('audit router (real PostgreSQL, Redis)', () => {
  it('is for admins only', async () => {
    for (const role of ['member', 'viewer'] as const) {
      const api = harness.caller(await harness.user(role));
      await expect(api.audit.list({})).rejects.toEqual(failure('FORBIDDEN', /Only admins/));
      await expect(api.audit.targetTypes()).rejects.toEqual(failure('FORBIDDEN'));
    }
    await expect(harness.caller(undefined).audit.list({})).rejects.toEqual(failure('UNAUTHORIZED'));
  });

  it('filters by target type, actor, action prefix and time, and pages newest first', async () => {
    const admin = await harness.user('admin', { email: 'Auditor@Example.com' });
    const api = harness.caller(admin);
    // Real changes through the routers...
    const team = await api.teams.create({ name: 'Audited' });
    await api.teams.rename({ teamId: team.id, name: 'Audited Twice' });
    const viewer = await harness.user('viewer');
    await api.users.setRole({ userId: viewer.id, role: 'member' });
    await api.tokens.api.create({ name: 'audit script' });
    // ...and older events from other actors, at known times.
    const long = new Date(Date.now() - 10 * day);
    await harness.deps.db.auditEvent.createMany({
      data: [
        { at: long, actor: 'system', action: 'pin.update', targetType: 'pin', targetId: 'p1', before: { digest: 'sha256:aa' }, after: { digest: 'sha256:bb' } },
        { at: new Date(long.getTime() + 1000), actor: 'node:mac-7', action: 'node.enroll', targetType: 'node', targetId: 'n7' },
      ],
    });

    const everything = await api.audit.list({});
    const ids = everything.events.map((e) => BigInt(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0)));
    expect(everything.nextCursor).toBeNull();
    expect(everything.events[0]).toMatchObject({ actor: 'node:mac-7', action: 'node.enroll', targetType: 'node', targetId: 'n7', before: null, after: null });
    expect(everything.events[0]!.at).toBeInstanceOf(Date);

    const teams = await api.audit.list({ targetType: 'team' });
    expect(teams.events.map((e) => e.action)).toEqual(['team.rename', 'team.create']);
    expect(teams.events[0]).toMatchObject({ actor: 'auditor@example.com', actorId: admin.id, targetId: team.id, before: { name: 'Audited' }, after: { name: 'Audited Twice' } });

    expect((await api.audit.list({ actor: 'AUDITOR' })).events.map((e) => e.action)).toEqual(['api-token.create', 'user.role', 'team.rename', 'team.create']);
    expect((await api.audit.list({ actor: 'mac-7' })).events.map((e) => e.action)).toEqual(['node.enroll']);
    expect((await api.audit.list({ action: 'team.' })).events).toHaveLength(2);
    expect((await api.audit.list({ action: 'team.ren' })).events.map((e) => e.targetId)).toEqual([team.id]);
    expect((await api.audit.list({ action: 'pin', targetType: 'pin', actor: 'sys' })).events.map((e) => e.targetId)).toEqual(['p1']);
    expect((await api.audit.list({ action: 'nothing.like.this' })).events).toEqual([]);

    const old = await api.audit.list({ to: new Date(Date.now() - 5 * day) });
    expect(old.events.map((e) => e.action)).toEqual(['node.enroll', 'pin.update']);
    const recent = await api.audit.list({ from: new Date(Date.now() - day) });
    expect(recent.events.map((e) => e.action)).not.toContain('pin.update');
    expect(recent.events.length).toBe(everything.events.length - 2);
    const window = await api.audit.list({ from: new Date(long.getTime() - 1), to: new Date(long.getTime() + 1) });
    expect(window.events.map((e) => e.action)).toEqual(['pin.update']);

    expect(await api.audit.targetTypes()).toEqual(['apiToken', 'node', 'pin', 'team', 'user']);
  });

  it('pages with a cursor: every event once, in order, while new ones arrive', async () => {
    const admin = await harness.user('admin');
    const api = harness.caller(admin);
    await harness.deps.db.auditEvent.createMany({ data: Array.from({ length: 7 }, (_, i) => ({ actor: 'pager', action: `page.${i}`, targetType: 'page' })) });

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: Awaited<ReturnType<typeof api.audit.list>> = await api.audit.list({ targetType: 'page', limit: 3, cursor });
      seen.push(...page.events.map((e) => e.action));
      cursor = page.nextCursor;
      pages++;
      // An event written mid-way is newer than every page still to come: it never shows up twice or shifts them.
      if (pages === 1) await harness.deps.db.auditEvent.create({ data: { actor: 'pager', action: 'page.late', targetType: 'page' } });
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual(['page.6', 'page.5', 'page.4', 'page.3', 'page.2', 'page.1', 'page.0']);

    await expect(api.audit.list({ cursor: 'not-a-number' })).rejects.toEqual(failure('BAD_REQUEST', /cursor is not valid/));
    await expect(api.audit.list({ limit: 1000 })).rejects.toEqual(invalid(/100/));
  });

  it('names targets and the objects changes point at, and says what changed in words', async () => {
    const admin = await harness.user('admin');
    const api = harness.caller(admin);
    const team = await api.teams.create({ name: 'iOS' });
    await api.teams.rename({ teamId: team.id, name: 'iOS CI' });
    const gone = await api.teams.create({ name: 'Short lived' });
    await api.teams.delete({ teamId: gone.id });
    const registry = await harness.deps.db.registry.create({ data: { name: 'office registry', host: 'audit-names.example:5000' } });
    await harness.deps.db.auditEvent.create({
      data: { actor: 'system', action: 'pin.create', targetType: 'pin', targetId: crypto.randomUUID(), after: { reference: 'audit-names.example:5000/demo/macos:15.2', registryId: registry.id, createdById: admin.id, mode: 'follow' } },
    });

    const { events } = await api.audit.list({ limit: 10 });
    const byAction = (action: string) => events.find((e) => e.action === action)!;
    expect(byAction('team.rename')).toMatchObject({ targetName: 'iOS CI', changes: [{ field: 'Name', before: 'iOS', after: 'iOS CI' }] });
    // A deleted target keeps the name its event wrote down.
    expect(byAction('team.delete')).toMatchObject({ targetId: gone.id, targetName: 'Short lived' });
    const pin = byAction('pin.create');
    expect(pin.targetName).toBe('audit-names.example:5000/demo/macos:15.2');
    // PostgreSQL keeps JSON keys in its own order: compare as a set.
    expect(pin.changes).toHaveLength(3);
    expect(pin.changes).toEqual(
      expect.arrayContaining([
        { field: 'Reference', after: 'audit-names.example:5000/demo/macos:15.2' },
        { field: 'Registry', after: 'office registry' },
        { field: 'Mode', after: 'follow' },
      ]),
    );
    expect(JSON.stringify(events.map((e) => e.changes))).not.toMatch(/createdById|registryId|[0-9a-f]{8}-[0-9a-f]{4}-/);
  });

  it('stays fast with 20,000 events: a time range or a target type is one quick page', async () => {
    const admin = await harness.user('admin');
    const api = harness.caller(admin);
    const start = Date.now() - 30 * day;
    await harness.deps.db.$executeRaw`
      INSERT INTO audit_events (at, actor, action, target_type, target_id, after)
      SELECT to_timestamp(${start / 1000}::double precision + i * 60), 'bulk', 'node.enroll', CASE WHEN i % 10 = 0 THEN 'team' ELSE 'node' END, gen_random_uuid()::text, jsonb_build_object('name', 'mac-' || i)
      FROM generate_series(1, 20000) AS i`;
    await harness.deps.db.$executeRawUnsafe('ANALYZE audit_events');
    const began = performance.now();
    const from = new Date(start + 5_000 * 60_000);
    const to = new Date(start + 6_000 * 60_000);
    const page = await api.audit.list({ from, to, limit: 100 });
    const typed = await api.audit.list({ targetType: 'team', limit: 100 });
    const elapsed = performance.now() - began;
    expect(page.events).toHaveLength(100);
    expect(page.events.every((e) => e.at >= from && e.at <= to)).toBe(true);
    expect(typed.events.every((e) => e.targetType === 'team')).toBe(true);
    expect(elapsed).toBeLessThan(1000);
  });

  it('redacts secrets on the way out, even in rows written without redaction', async () => {
    const admin = await harness.user('admin');
    const { passwordHash } = await harness.deps.db.user.findUniqueOrThrow({ where: { id: admin.id } });
    await harness.deps.db.auditEvent.create({
      data: { actor: 'legacy', action: 'legacy.write', targetType: 'legacy', before: { passwordHash, nested: { tokenHash: 'abc123' } }, after: { name: 'kept' } },
    });
    const { events } = await harness.caller(admin).audit.list({ targetType: 'legacy' });
    expect(events[0]).toMatchObject({ before: { passwordHash: '[redacted]', nested: { tokenHash: '[redacted]' } }, after: { name: 'kept' } });
    expect(leaks(events, [passwordHash, 'abc123'])).toEqual([]);
  });

  it('no page of the log carries a password hash or token hash', async () => {
    const admin = await harness.user('admin');
    const api = harness.caller(admin);
    await api.users.create({ email: 'leak-check@example.com', name: 'Leak check', password: 'leak-check-password', role: 'viewer' });
    await api.tokens.enrollment.create({ name: 'leak check' });
    await api.tokens.api.create({ name: 'leak check' });
    const { events } = await api.audit.list({ limit: 100 });
    expect(events.length).toBeGreaterThan(10);
    expect(leaks(events, [...(await storedSecrets(harness.deps)), 'leak-check-password'])).toEqual([]);
  });
});
