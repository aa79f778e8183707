// Registries with credentials, against a real docker-registry that needs a password.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useTestDatabase } from '@cider/db/testing';
import { pushArtifact, RegistryClient, StaticCredentials } from '@cider/oci';
import { writeHtpasswd } from '@cider/oci/testing';
import { startRegistry, type RunningRegistry } from '@cider/services';
import { useRedisPrefix } from '@cider/services/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServiceDeps } from '../../deps-factory.ts';
import { AppError } from '../../errors.ts';
import { setPin } from '../projects/pins.ts';
import { createProject } from '../projects/projects.ts';
import { createRegistry, listRegistries } from './registries.ts';

const database = useTestDatabase();
const redis = useRedisPrefix();
const actor = { label: 'admin@example.com' };

describe('registries with credentials (real PostgreSQL, Redis, password-protected docker-registry)', () => {
  let work: string;
  let registry: RunningRegistry;
  let services: ReturnType<typeof createServiceDeps>;
  const password = 'correct horse battery staple';

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cider-registries-'));
    await writeHtpasswd(join(work, 'htpasswd'), { alice: password });
    registry = await startRegistry({ auth: { kind: 'htpasswd', htpasswdFile: join(work, 'htpasswd') } });
    services = createServiceDeps({ databaseUrl: database.url, redisUrl: redis.url, redisPrefix: redis.prefix, secretKey: randomBytes(32).toString('base64') });
    const file = join(work, 'payload.bin');
    await writeFile(file, 'private payload');
    const client = new RegistryClient({ credentials: new StaticCredentials({ [registry.host]: { kind: 'basic', username: 'alice', password } }) });
    await pushArtifact({ client, reference: `${registry.host}/private/macos:15.2`, files: [{ path: file }] });
    await client.close();
  });
  afterAll(async () => {
    await services?.close();
    await registry?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('refuses a wrong password with a message that names the user, and saves nothing', async () => {
    const error = (await createRegistry(services.deps, actor, { name: 'private', host: registry.host, plainHttp: true, authKind: 'basic', username: 'alice', password: 'wrong' }).catch((e: unknown) => e)) as AppError;
    expect(error).toBeInstanceOf(AppError);
    expect(error.code).toBe('REGISTRY_AUTH');
    expect(error.message).toMatch(/rejected the credentials for user "alice"/);
    expect(await services.deps.db.registry.count()).toBe(0);
  });

  it('asks for credentials when none are given', async () => {
    const error = (await createRegistry(services.deps, actor, { name: 'private', host: registry.host, plainHttp: true, authKind: 'none' }).catch((e: unknown) => e)) as AppError;
    expect(error.code).toBe('REGISTRY_AUTH');
    expect(error.message).toMatch(/requires a username and password/);
  });

  it('stores the password sealed, never returns it, and uses it to resolve pins', async () => {
    const view = await createRegistry(services.deps, actor, { name: 'private', host: registry.host, plainHttp: true, authKind: 'basic', username: 'alice', password });
    expect(view).toMatchObject({ host: registry.host, username: 'alice', hasPassword: true });
    expect(JSON.stringify(view)).not.toContain(password);
    expect(JSON.stringify(await listRegistries(services.deps))).not.toContain(password);

    const row = await services.deps.db.registry.findUniqueOrThrow({ where: { id: view.id } });
    expect(Buffer.from(row.secretSealed!).toString('utf8')).not.toContain(password);
    expect(Buffer.from(row.secretSealed!).includes(Buffer.from(password))).toBe(false);
    const audit = await services.deps.db.auditEvent.findMany({ where: { targetType: 'registry' } });
    expect(JSON.stringify(audit, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v))).not.toContain(password);

    const team = await services.deps.db.team.create({ data: { name: 'Platform' } });
    const project = await createProject(services.deps, actor, { name: 'private-ci', teamId: team.id, nodeSelector: {} });
    const pin = await setPin(services.deps, actor, { projectId: project.id, reference: `${registry.host}/private/macos:15.2`, mode: 'follow' });
    expect(pin.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
});
