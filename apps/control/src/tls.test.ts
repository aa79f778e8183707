// The control plane serving TLS itself (CIDER_TLS_CERT/CIDER_TLS_KEY), with a self-signed
// certificate made here by Debian's openssl: https and wss on one port, plain http refused, and
// the real agent (as its own processes) enrolling and connecting with the CA given through
// NODE_EXTRA_CA_CERTS, with real PostgreSQL and Redis.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createServiceDeps } from '@cider/api';
import { createEnrollmentToken } from '@cider/api/services';
import { useTestDatabase } from '@cider/db/testing';
import { enrollPath, generateNodeKeyPair } from '@cider/protocol';
import { startProcess, type ManagedProcess } from '@cider/services';
import { useRedisPrefix } from '@cider/services/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlProcess, type ControlProcess, type Getter } from '../testing/control-process.ts';
import { until } from '../testing/fleet.ts';
import { rawExchange, SimAgent, statusOf } from '../testing/wire.ts';

const run = promisify(execFile);
const database = useTestDatabase();
const redis = useRedisPrefix();
const root = fileURLToPath(new URL('../../../', import.meta.url));
const agentMain = join(root, 'apps/agent/src/main.ts');

describe('TLS on the agent gateway (self-signed certificate, real control and agent processes)', () => {
  let work: string;
  let ca: Buffer;
  let control: ControlProcess;
  let services: ReturnType<typeof createServiceDeps>;
  let agent: ManagedProcess | undefined;

  /** An https client that trusts only our test CA. */
  const send = (url: string, method = 'GET', body?: string): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const req = request(url, { method, ca, headers: body ? { 'content-type': 'application/json' } : {}, timeout: 5_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      });
      req.on('error', reject);
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.end(body);
    });
  const get: Getter = (url) => send(url);

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cider-tls-'));
    const [cert, key] = [join(work, 'cert.pem'), join(work, 'key.pem')];
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
    ca = await readFile(cert);
    const secretKey = randomBytes(32).toString('base64');
    services = createServiceDeps({ databaseUrl: database.url, redisUrl: redis.url, redisPrefix: redis.prefix, secretKey });
    control = await startControlProcess(
      { DATABASE_URL: database.url, REDIS_URL: redis.url, CIDER_REDIS_PREFIX: redis.prefix, CIDER_SECRET_KEY: secretKey, CIDER_TLS_CERT: cert, CIDER_TLS_KEY: key },
      { get, scheme: 'https' },
    );
  });
  afterAll(async () => {
    await agent?.stop();
    await control?.stop();
    await services?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('serves https and wss on its port and refuses plain http', async () => {
    expect(await send(`${control.url}/healthz`)).toEqual({ status: 200, body: '{"ok":true}' });
    // Plain HTTP to the TLS port gets no HTTP answer (Node's TLS server answers 400 in clear at most).
    expect([0, 400]).toContain(statusOf(await rawExchange(control.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', 2_000)));
    // A client that does not trust the certificate does not get through.
    await expect(fetch(`${control.url}/healthz`)).rejects.toThrow();

    const { token } = await createEnrollmentToken(services.deps, { label: 'admin@example.com' }, { name: 'tls', usesLeft: 2 });
    const keys = generateNodeKeyPair();
    const enrolled = await send(`${control.url}${enrollPath}`, 'POST', JSON.stringify({ token, name: 'wss-sim', labels: {}, publicKey: keys.publicKey }));
    expect(enrolled.status).toBe(200);
    const identity = JSON.parse(enrolled.body) as { nodeId: string; secret: string };
    const sim = await SimAgent.connect(control.url, `${identity.nodeId}.${identity.secret}`, keys, { ca });
    expect(sim.open).toBe(true);
    sim.close();
    expect(await control.alive()).toBe(true);
  });

  it('the real agent enrolls and connects over TLS with the CA from NODE_EXTRA_CA_CERTS', async () => {
    const { token } = await createEnrollmentToken(services.deps, { label: 'admin@example.com' }, { name: 'tls-agent', usesLeft: 1 });
    const tokenFile = join(work, 'token');
    await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
    const config = join(work, 'agent.json');
    const env = { ...process.env, NODE_EXTRA_CA_CERTS: join(work, 'cert.pem'), LOG_LEVEL: 'warn' };
    const enrolling = startProcess(
      process.execPath,
      ['--import', 'tsx', agentMain, 'enroll', '--server', control.url, '--token-file', tokenFile, '--name', 'tls-mac', '--cache', join(work, 'cache'), '--config', config],
      { cwd: root, env },
    );
    const code = await new Promise<number | null>((resolve) => enrolling.child.on('exit', resolve));
    expect({ code, output: code === 0 ? '' : enrolling.output() }).toEqual({ code: 0, output: '' });
    agent = startProcess(process.execPath, ['--import', 'tsx', agentMain, 'run', '--config', config, '--no-peer'], { cwd: root, env });
    const node = await until(
      'the agent to connect over wss',
      async () => {
        if (agent!.child.exitCode !== null) throw new Error(`the agent exited:\n${agent!.output()}`);
        const row = await services.deps.db.node.findUnique({ where: { name: 'tls-mac' } });
        return row?.state === 'online' ? row : undefined;
      },
      30_000,
    );
    expect(node.agentVersion).toBeTruthy();
  });
});
