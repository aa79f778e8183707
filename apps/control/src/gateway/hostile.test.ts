// Hostile input against the running gateway: a real control process (its own main and crash
// handlers) with real PostgreSQL and Redis. Every case asserts the process is alive (/healthz),
// the answer is the right status or close code, and nothing changed in the database.
import { randomBytes, randomUUID } from 'node:crypto';
import { createServiceDeps } from '@cider/api';
import { createEnrollmentToken } from '@cider/api/services';
import { useTestDatabase } from '@cider/db/testing';
import { CloseCode, enrollPath, generateNodeKeyPair, maxEnrollBodyBytes, maxFrameBytes, type ControlMessage } from '@cider/protocol';
import { useRedisPrefix } from '@cider/services/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlProcess, type ControlProcess } from '../../testing/control-process.ts';
import { rawExchange, sendAndReset, SimAgent, simFacts, statusOf, upgradeRequest } from '../../testing/wire.ts';

const database = useTestDatabase();
const redis = useRedisPrefix();

describe('hostile input against the running gateway (real control process, PostgreSQL, Redis)', () => {
  let control: ControlProcess;
  let services: ReturnType<typeof createServiceDeps>;
  let token: string;
  const victimKeys = generateNodeKeyPair();
  let victim: { nodeId: string; secret: string };
  let victimSocket: SimAgent;

  const enroll = (body: unknown) =>
    fetch(`${control.url}${enrollPath}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });

  /** Everything an attacker could try to change, as one comparable value. */
  async function snapshot(): Promise<string> {
    const { db } = services.deps;
    const [nodes, tokens, audit, images, jobs] = await Promise.all([
      db.node.findMany({ orderBy: { name: 'asc' }, select: { id: true, name: true, labels: true, secretHash: true, pendingSecretHash: true, publicKey: true, revokedAt: true, replaceAllowedUntil: true, enrolledAt: true } }),
      db.enrollmentToken.findMany({ orderBy: { name: 'asc' } }),
      db.auditEvent.count(),
      db.nodeImage.findMany({ orderBy: [{ nodeId: 'asc' }, { digest: 'asc' }] }),
      db.syncJob.findMany({ orderBy: { id: 'asc' } }),
    ]);
    return JSON.stringify({ nodes, tokens, audit, images, jobs }, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  }

  async function expectAliveAndUnchanged(before: string): Promise<void> {
    expect(await control.alive()).toBe(true);
    expect(await snapshot()).toBe(before);
  }

  beforeAll(async () => {
    const secretKey = randomBytes(32).toString('base64');
    services = createServiceDeps({ databaseUrl: database.url, redisUrl: redis.url, redisPrefix: redis.prefix, secretKey });
    control = await startControlProcess({ DATABASE_URL: database.url, REDIS_URL: redis.url, CIDER_REDIS_PREFIX: redis.prefix, CIDER_SECRET_KEY: secretKey });
    ({ token } = await createEnrollmentToken(services.deps, { label: 'admin@example.com' }, { name: 'hostile', usesLeft: 10, labels: { pool: 'ci' } }));
    const response = await enroll({ token, name: 'victim', labels: { pool: 'ci' }, publicKey: victimKeys.publicKey, facts: simFacts });
    expect(response.status).toBe(200);
    victim = (await response.json()) as { nodeId: string; secret: string };
    victimSocket = await SimAgent.connect(control.url, `${victim.nodeId}.${victim.secret}`, victimKeys);
  });
  afterAll(async () => {
    victimSocket?.close();
    await control?.stop();
    await services?.close();
  });

  it('answers /healthz with ok and nothing more', async () => {
    const response = await fetch(`${control.url}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('{"ok":true}');
    expect((await fetch(`${control.url}/healthz`, { method: 'POST' })).status).toBe(405);
  });

  const targets: [string, number][] = [
    ['http://[', 400],
    ['*', 400],
    ['example.com:443', 400],
    ['http://evil.example/no-such-path', 404],
    ['/%zz%00', 404],
    [`/${'a'.repeat(8_000)}`, 404],
    [`/${'a'.repeat(70_000)}`, 431],
  ];

  it('answers malformed request targets over HTTP with a status', async () => {
    const before = await snapshot();
    for (const [target, status] of targets) {
      const response = await rawExchange(control.port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      expect({ target: target.slice(0, 40), status: statusOf(response) }).toEqual({ target: target.slice(0, 40), status });
    }
    // Absolute-form is legal HTTP (RFC 9112 3.2.2): it reaches the route its path names.
    expect(statusOf(await rawExchange(control.port, 'GET http://anything.example/healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'))).toBe(200);
    await expectAliveAndUnchanged(before);
  });

  it('answers malformed request targets on the upgrade path with a status', async () => {
    const before = await snapshot();
    for (const [target, status] of targets) {
      const response = await rawExchange(control.port, upgradeRequest(target));
      expect({ target: target.slice(0, 40), status: statusOf(response) }).toEqual({ target: target.slice(0, 40), status });
    }
    expect(statusOf(await rawExchange(control.port, upgradeRequest('/agent/v1/../v1')))).toBe(401);
    await expectAliveAndUnchanged(before);
  });

  it('survives raw garbage and random bytes over TCP', async () => {
    const before = await snapshot();
    const inputs = [Buffer.from('\x00\x01\x02GARBAGE\r\n\r\n'), Buffer.from('GET / HTTP/9.9\r\n\r\n'), Buffer.from('POST /agent/v1/enroll HTTP/1.1\r\nContent-Length: -1\r\n\r\n')];
    for (let i = 0; i < 20; i++) inputs.push(randomBytes(1 + Math.floor(Math.random() * 4096)));
    const answers = await Promise.all(inputs.map((input) => rawExchange(control.port, input, 2_000)));
    for (const answer of answers) expect([0, 400]).toContain(statusOf(answer));
    await expectAliveAndUnchanged(before);
  });

  it('refuses enrollment bodies that are too large, not JSON or not an enrollment', async () => {
    const before = await snapshot();
    const big = JSON.stringify({ token, name: 'big', labels: { pad: 'x'.repeat(maxEnrollBodyBytes) } });
    expect((await enroll(big)).status).toBe(413);
    // Without a Content-Length, the limit holds while reading.
    const chunked = await rawExchange(
      control.port,
      `POST ${enrollPath} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${`4000\r\n${'x'.repeat(0x4000)}\r\n`.repeat(8)}0\r\n\r\n`,
    );
    expect(statusOf(chunked)).toBe(413);
    expect((await enroll('{"token":')).status).toBe(400);
    expect((await enroll('[]')).status).toBe(400);
    const badName = await enroll({ token, name: 'has spaces; drop table', labels: {} });
    expect(badName.status).toBe(400);
    expect(((await badName.json()) as { error: string }).error).toMatch(/name/);
    expect((await enroll({ token: 'cen_unknown', name: 'nobody', labels: {} })).status).toBe(401);
    expect((await fetch(`${control.url}${enrollPath}`)).status).toBe(405);
    await expectAliveAndUnchanged(before);
  });

  it('refuses 1,000 bad upgrades at once (absent, malformed, unknown and wrong credentials) with 401', async () => {
    const before = await snapshot();
    const headers = (i: number): Record<string, string> => {
      switch (i % 5) {
        case 0:
          return {};
        case 1:
          return { Authorization: 'Basic YWxpY2U6cGFzc3dvcmQ=' };
        case 2:
          return { Authorization: `Bearer ${'x'.repeat(300)}` };
        case 3:
          return { Authorization: `Bearer ${randomUUID()}.cns_${randomBytes(32).toString('base64url')}` };
        default:
          return { Authorization: `Bearer ${victim.nodeId}.cns_${randomBytes(32).toString('base64url')}` };
      }
    };
    const answers = await Promise.all(Array.from({ length: 1_000 }, (_, i) => rawExchange(control.port, upgradeRequest('/agent/v1', headers(i)), 30_000)));
    const statuses = answers.map(statusOf);
    expect(statuses.filter((s) => s !== 401)).toEqual([]);
    expect(victimSocket.open).toBe(true);
    await expectAliveAndUnchanged(before);
  });

  it('survives upgrades whose peers reset the connection while their credentials are checked', async () => {
    const before = await snapshot();
    const credentials = () => ({ Authorization: `Bearer ${victim.nodeId}.cns_${randomBytes(32).toString('base64url')}` });
    await Promise.all(Array.from({ length: 300 }, () => sendAndReset(control.port, upgradeRequest('/agent/v1', credentials()))));
    await Promise.all(Array.from({ length: 50 }, () => sendAndReset(control.port, `POST ${enrollPath} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"tok`)));
    expect(victimSocket.open).toBe(true);
    await expectAliveAndUnchanged(before);
  });

  it('answers schema-violating agent messages with errors, then closes the socket (4400)', async () => {
    const keys = generateNodeKeyPair();
    const enrolled = (await (await enroll({ token, name: 'noisy', labels: {}, publicKey: keys.publicKey })).json()) as { nodeId: string; secret: string };
    const agent = await SimAgent.open(control.url, `${enrolled.nodeId}.${enrolled.secret}`);
    // Before hello: a hello with a date that is no date (this killed the process once).
    const image = { digest: `sha256:${'a'.repeat(64)}`, tags: [], sizeBytes: 1, verifiedAt: 'x' };
    agent.send(JSON.stringify({ type: 'hello', protocol: 2, agentVersion: 'x', publicKey: keys.publicKey, facts: simFacts, images: [image] }));
    expect(await agent.next((m) => m.type === 'error')).toMatchObject({ code: 'BAD_MESSAGE' });
    agent.send({ type: 'hello', protocol: 2, agentVersion: 'sim', publicKey: keys.publicKey, facts: simFacts, images: [], activeJobs: [] });
    await agent.next((m) => m.type === 'welcome');
    const before = await snapshot();

    const violations: unknown[] = [
      { type: 'heartbeat', facts: { ...simFacts, memoryBytes: -1 } },
      { type: 'heartbeat', facts: { ...simFacts, memoryBytes: 1e300 } },
      { type: 'inventory', images: Array.from({ length: 5_000 }, () => ({ ...image, verifiedAt: new Date().toISOString() })) },
      { type: 'sync.progress', jobId: "'; drop table nodes; --", phase: 'downloading', bytesDone: 1, bytesTotal: 2 },
      { type: 'sync.done', jobId: randomUUID(), digest: 'sha256:nothex', image, bytesFetched: 1 },
      { type: 'eviction', digest: image.digest, reason: 'x'.repeat(10_000), freedBytes: 1 },
      { type: 'no-such-type' },
      [1, 2, 3],
    ];
    for (const [i, violation] of violations.entries()) {
      agent.send(typeof violation === 'string' ? violation : JSON.stringify(violation));
      const answer = await agent.next((m) => m.type === 'error').catch(() => undefined);
      expect({ i, answer }).toMatchObject({ i, answer: { code: 'BAD_MESSAGE' } });
    }
    // Well-formed but about a job that is not this node's: refused, and not counted as malformed.
    agent.send({ type: 'sync.progress', jobId: randomUUID(), phase: 'downloading', bytesDone: 1, bytesTotal: 2 });
    expect(await agent.next((m) => m.type === 'error')).toMatchObject({ code: 'NOT_FOUND' });
    expect(agent.open).toBe(true);
    // The tenth malformed message (the bad hello was the first) ends it.
    agent.send('not json at all');
    expect(await agent.closed).toMatchObject({ code: CloseCode.badMessage });
    await expectAliveAndUnchanged(before);
  });

  it('closes a socket that sends a frame over maxFrameBytes (1009)', async () => {
    const keys = generateNodeKeyPair();
    const enrolled = (await (await enroll({ token, name: 'big-frames', labels: {}, publicKey: keys.publicKey })).json()) as { nodeId: string; secret: string };
    const agent = await SimAgent.connect(control.url, `${enrolled.nodeId}.${enrolled.secret}`, keys);
    const before = await snapshot();
    agent.send(Buffer.alloc(maxFrameBytes + 1, 0x20));
    expect((await agent.closed).code).toBe(CloseCode.tooLarge);
    await expectAliveAndUnchanged(before);
  });

  it('closes a socket that floods messages (4429) and keeps serving everyone else', async () => {
    const keys = generateNodeKeyPair();
    const enrolled = (await (await enroll({ token, name: 'flood', labels: {}, publicKey: keys.publicKey })).json()) as { nodeId: string; secret: string };
    const agent = await SimAgent.connect(control.url, `${enrolled.nodeId}.${enrolled.secret}`, keys);
    const frame = JSON.stringify({ type: 'sync.progress', jobId: randomUUID(), phase: 'downloading', bytesDone: 1, bytesTotal: 2 });
    for (let i = 0; i < 2_000 && agent.open; i++) agent.send(frame);
    const closed = await agent.closed;
    expect(closed.code).toBe(CloseCode.tooManyMessages);
    expect(closed.reason).toMatch(/messages/);
    expect(victimSocket.open).toBe(true);
    expect(await control.alive()).toBe(true);
  });

  it("refuses an impostor enrolling under the victim's name; the victim keeps its secret, labels and connection", async () => {
    const before = await snapshot();
    const response = await enroll({ token, name: 'victim', labels: { pool: 'evil' }, publicKey: generateNodeKeyPair().publicKey });
    expect(response.status).toBe(409);
    expect(((await response.json()) as { error: string }).error).toMatch(/already enrolled.*Allow replacement/);
    await expectAliveAndUnchanged(before);
    // Still connected and still heard: a request on its socket gets its answer.
    victimSocket.send({ type: 'grant.renew', jobId: randomUUID() });
    const answer: ControlMessage = await victimSocket.next((m) => m.type === 'error');
    expect(answer).toMatchObject({ code: 'NOT_FOUND' });
    expect(victimSocket.open).toBe(true);
  });
});
