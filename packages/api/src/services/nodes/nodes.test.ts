// Node identity against real PostgreSQL and Redis: enrollment under a taken name, atomic use
// limits, token labels, replacement, revocation, secret rotation, and what sync.done may record.
import { randomBytes } from 'node:crypto';
import { useTestDatabase } from '@cider/db/testing';
import { CloseCode, generateNodeKeyPair, openSealedBox, secretContext, syncJobKey } from '@cider/protocol';
import { useRedisPrefix } from '@cider/services/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServiceDeps } from '../../deps-factory.ts';
import { AppError } from '../../errors.ts';
import { allowNodeReplacement, revokeNode, rotateNodeSecret } from './admin.ts';
import { agentCommandsChannel, nodeNoticesChannel } from './notices.ts';
import { authenticateNode, createEnrollmentToken, enrollNode } from './nodes.ts';
import { recordDone } from '../sync/reports.ts';

const database = useTestDatabase();
const redis = useRedisPrefix();
const admin = { label: 'admin@example.com' };
const digestOf = (hex: string) => `sha256:${hex.repeat(64 / hex.length)}`;

async function refusal(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

describe('node identity (real PostgreSQL, Redis)', () => {
  let services: ReturnType<typeof createServiceDeps>;
  let listener: Redis;
  const published: { channel: string; message: string }[] = [];

  beforeAll(async () => {
    services = createServiceDeps({ databaseUrl: database.url, redisUrl: redis.url, redisPrefix: redis.prefix, secretKey: randomBytes(32).toString('base64') });
    listener = new Redis(redis.url);
    listener.on('message', (channel: string, message: string) => published.push({ channel, message }));
    await listener.subscribe(agentCommandsChannel(redis.prefix), nodeNoticesChannel(redis.prefix));
  });
  afterAll(async () => {
    listener?.disconnect();
    await services?.close();
  });

  const deps = () => services.deps;
  const until = async (what: string, probe: () => boolean) => {
    for (let i = 0; i < 100 && !probe(); i++) await new Promise((r) => setTimeout(r, 20));
    if (!probe()) throw new Error(`timed out waiting for ${what}`);
  };

  it('spends a limited token exactly as often as it allows, even with 20 enrollments at once', async () => {
    const { token, id } = await createEnrollmentToken(deps(), admin, { name: 'three uses', usesLeft: 3 });
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => enrollNode(deps(), { token, name: `race-${i}`, labels: {} })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => (r.reason as AppError).code);
    expect(new Set(refused)).toEqual(new Set(['UNAUTHENTICATED']));
    expect((await deps().db.enrollmentToken.findUniqueOrThrow({ where: { id } })).usesLeft).toBe(0);
    expect(await deps().db.node.count({ where: { name: { startsWith: 'race-' } } })).toBe(3);
  });

  it("lets the token's labels win over the agent's", async () => {
    const { token } = await createEnrollmentToken(deps(), admin, { name: 'pool token', labels: { pool: 'ios-ci', site: 'ber' } });
    const enrolled = await enrollNode(deps(), { token, name: 'labelled', labels: { pool: 'mine', extra: 'yes' } });
    const node = await deps().db.node.findUniqueOrThrow({ where: { id: enrolled.nodeId } });
    expect(node.labels).toEqual({ pool: 'ios-ci', site: 'ber', extra: 'yes' });
  });

  it('refuses an impostor enrolling under a taken name: the victim, the token and the audit log stay as they were', async () => {
    const { token, id: tokenId } = await createEnrollmentToken(deps(), admin, { name: 'shared', usesLeft: 5 });
    const victimKeys = generateNodeKeyPair();
    const victim = await enrollNode(deps(), { token, name: 'victim', labels: { pool: 'a' }, publicKey: victimKeys.publicKey });
    const before = await deps().db.node.findUniqueOrThrow({ where: { id: victim.nodeId } });
    const usesBefore = (await deps().db.enrollmentToken.findUniqueOrThrow({ where: { id: tokenId } })).usesLeft;
    const auditBefore = await deps().db.auditEvent.count();

    const error = await refusal(enrollNode(deps(), { token, name: 'victim', labels: { pool: 'evil' }, publicKey: generateNodeKeyPair().publicKey }));
    expect(error.code).toBe('CONFLICT');
    expect(error.message).toMatch(/already enrolled.*"Allow replacement" on that node's page/);

    expect(await deps().db.node.findUniqueOrThrow({ where: { id: victim.nodeId } })).toEqual(before);
    expect((await deps().db.enrollmentToken.findUniqueOrThrow({ where: { id: tokenId } })).usesLeft).toBe(usesBefore);
    expect(await deps().db.auditEvent.count()).toBe(auditBefore);
    expect((await authenticateNode(deps(), `${victim.nodeId}.${victim.secret}`)).id).toBe(victim.nodeId);
  });

  it('replaces a node once an admin allowed it: new secret and key, revocation lifted, old agent cut off, window spent', async () => {
    const { token } = await createEnrollmentToken(deps(), admin, { name: 'replacements' });
    const old = await enrollNode(deps(), { token, name: 'reinstalled', labels: {}, publicKey: generateNodeKeyPair().publicKey });
    await revokeNode(deps(), admin, { nodeId: old.nodeId });
    const allowed = await allowNodeReplacement(deps(), admin, { nodeId: old.nodeId });
    expect(allowed.until.getTime()).toBeGreaterThan(Date.now() + 23 * 3_600_000);

    published.length = 0;
    const newKey = generateNodeKeyPair().publicKey;
    const replacement = await enrollNode(deps(), { token, name: 'reinstalled', labels: {}, publicKey: newKey });
    expect(replacement.nodeId).toBe(old.nodeId);
    const node = await deps().db.node.findUniqueOrThrow({ where: { id: old.nodeId } });
    expect(node).toMatchObject({ revokedAt: null, publicKey: newKey, replaceAllowedUntil: null, pendingSecretHash: null });
    await expect(authenticateNode(deps(), `${old.nodeId}.${old.secret}`)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    expect((await authenticateNode(deps(), `${old.nodeId}.${replacement.secret}`)).id).toBe(old.nodeId);
    const actions = (await deps().db.auditEvent.findMany({ where: { targetId: old.nodeId }, orderBy: { at: 'asc' } })).map((e) => e.action);
    expect(actions).toEqual(['node.enroll', 'node.revoke', 'node.allow-replace', 'node.replace']);
    await until('the disconnect notice', () => published.some((p) => p.channel === nodeNoticesChannel(redis.prefix)));
    const notice = JSON.parse(published.find((p) => p.channel === nodeNoticesChannel(redis.prefix))!.message);
    expect(notice).toMatchObject({ type: 'disconnect', nodeId: old.nodeId, code: CloseCode.unauthorized, enrolledBefore: node.enrolledAt.toISOString() });

    // The window is spent: a second enrollment under the name is refused again.
    expect((await refusal(enrollNode(deps(), { token, name: 'reinstalled', labels: {} }))).code).toBe('CONFLICT');
  });

  it('revokes a node: audited, its open jobs cancelled, its socket told to close, its secret refused with 403', async () => {
    const { token } = await createEnrollmentToken(deps(), admin, { name: 'revocations' });
    const enrolled = await enrollNode(deps(), { token, name: 'lost-mac', labels: {} });
    const job = await deps().db.syncJob.create({ data: { key: syncJobKey(enrolled.nodeId, digestOf('ab')), nodeId: enrolled.nodeId, digest: digestOf('ab'), reference: 'r.example/a:1', state: 'pulling' } });
    published.length = 0;

    const result = await revokeNode(deps(), admin, { nodeId: enrolled.nodeId });
    expect(result.message).toMatch(/Revoked lost-mac: its agent, if connected, was disconnected and can no longer connect; 1 open sync job was cancelled/);
    expect((await deps().db.syncJob.findUniqueOrThrow({ where: { id: job.id } })).state).toBe('cancelled');
    const node = await deps().db.node.findUniqueOrThrow({ where: { id: enrolled.nodeId } });
    expect(node.revokedAt).not.toBeNull();
    expect(node.state).toBe('revoked');
    await expect(authenticateNode(deps(), `${enrolled.nodeId}.${enrolled.secret}`)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    const audit = await deps().db.auditEvent.findFirstOrThrow({ where: { action: 'node.revoke', targetId: enrolled.nodeId } });
    expect(audit.actor).toBe(admin.label);
    await until('the disconnect notice', () => published.length > 0);
    expect(JSON.parse(published[0]!.message)).toEqual({ type: 'disconnect', nodeId: enrolled.nodeId, code: CloseCode.revoked, reason: 'this node was revoked by an admin' });
    // Revoking again changes nothing and says so.
    expect((await revokeNode(deps(), admin, { nodeId: enrolled.nodeId })).message).toMatch(/already revoked/);
    expect(await deps().db.auditEvent.count({ where: { action: 'node.revoke', targetId: enrolled.nodeId } })).toBe(1);
  });

  it('rotates a secret: sealed to the node key on the command channel, both work until the new one is used, then only the new one', async () => {
    const { token } = await createEnrollmentToken(deps(), admin, { name: 'rotations' });
    const keys = generateNodeKeyPair();
    const enrolled = await enrollNode(deps(), { token, name: 'rotating', labels: {}, publicKey: keys.publicKey });

    // Offline: refused, nothing stored.
    const offline = await refusal(rotateNodeSecret(deps(), admin, { nodeId: enrolled.nodeId }));
    expect(offline.code).toBe('CONFLICT');
    expect(offline.message).toMatch(/offline: its agent must be connected/);
    expect((await deps().db.node.findUniqueOrThrow({ where: { id: enrolled.nodeId } })).pendingSecretHash).toBeNull();

    await deps().db.node.update({ where: { id: enrolled.nodeId }, data: { state: 'online', lastSeenAt: new Date() } });
    published.length = 0;
    await rotateNodeSecret(deps(), admin, { nodeId: enrolled.nodeId });
    await until('the secret command', () => published.some((p) => p.channel === agentCommandsChannel(redis.prefix)));
    const command = JSON.parse(published.find((p) => p.channel === agentCommandsChannel(redis.prefix))!.message) as { nodeId: string; message: { type: string; sealed: string } };
    expect(command).toMatchObject({ nodeId: enrolled.nodeId, message: { type: 'secret' } });
    const secret = openSealedBox(keys, command.message.sealed, secretContext(enrolled.nodeId));
    expect(secret).toMatch(/^cns_/);
    expect(published.map((p) => p.message).join('\n')).not.toContain(secret);

    expect((await authenticateNode(deps(), `${enrolled.nodeId}.${enrolled.secret}`)).id).toBe(enrolled.nodeId);
    expect((await authenticateNode(deps(), `${enrolled.nodeId}.${secret}`)).id).toBe(enrolled.nodeId);
    const node = await deps().db.node.findUniqueOrThrow({ where: { id: enrolled.nodeId } });
    expect(node.pendingSecretHash).toBeNull();
    await expect(authenticateNode(deps(), `${enrolled.nodeId}.${enrolled.secret}`)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    const actions = (await deps().db.auditEvent.findMany({ where: { targetId: enrolled.nodeId }, orderBy: { at: 'asc' } })).map((e) => e.action);
    expect(actions).toEqual(['node.enroll', 'node.rotate-secret', 'node.secret-rotated']);
    expect(JSON.stringify(await deps().db.auditEvent.findMany({ select: { before: true, after: true } }))).not.toContain(secret);
  });

  it('fails a job whose sync.done names another digest, in the report or in its image, and records no image', async () => {
    const { token } = await createEnrollmentToken(deps(), admin, { name: 'done checks' });
    const enrolled = await enrollNode(deps(), { token, name: 'liar', labels: {} });
    const wanted = digestOf('cd');
    const image = { digest: wanted, tags: [], sizeBytes: 10, verifiedAt: new Date().toISOString() };
    for (const [report, bad] of [
      [{ digest: digestOf('ef'), image }, digestOf('ef')],
      [{ digest: wanted, image: { ...image, digest: digestOf('12') } }, digestOf('12')],
    ] as const) {
      const job = await deps().db.syncJob.create({ data: { key: `k-${bad}`, nodeId: enrolled.nodeId, digest: wanted, reference: 'r.example/a:1', state: 'pulling' } });
      await recordDone(deps(), enrolled.nodeId, { jobId: job.id, ...report });
      const after = await deps().db.syncJob.findUniqueOrThrow({ where: { id: job.id } });
      expect(after.state).toBe('failed');
      expect(after.error).toContain(`reported ${bad}`);
      expect(await deps().db.nodeImage.count({ where: { nodeId: enrolled.nodeId } })).toBe(0);
    }
    // Another node's job is not this node's to report on.
    const other = await enrollNode(deps(), { token, name: 'honest', labels: {} });
    const job = await deps().db.syncJob.create({ data: { key: 'k-other', nodeId: other.nodeId, digest: wanted, reference: 'r.example/a:1', state: 'pulling' } });
    expect((await refusal(recordDone(deps(), enrolled.nodeId, { jobId: job.id, digest: wanted, image }))).code).toBe('NOT_FOUND');
    expect((await deps().db.syncJob.findUniqueOrThrow({ where: { id: job.id } })).state).toBe('pulling');
  });
});
