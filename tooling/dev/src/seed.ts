// Seed data for a fresh system: an admin account, a team, a demo image in the registry, and an
// enrollment token for the demo agents. Safe to run again: it adds only what is missing.
import { createEnrollmentToken, createUser, type ServiceDeps } from '@cider/api/services';
import { rm } from 'node:fs/promises';
import { isOciError, pushIpsw, RegistryClient } from '@cider/oci';
import { makeSyntheticIpsw } from '@cider/oci/testing';

export interface SeedOptions {
  deps: ServiceDeps;
  registryHost: string;
  adminEmail: string;
  /** Used only when the admin account is created. */
  adminPassword: string;
  /** Where the demo payload file is written before it is pushed. */
  workDir: string;
  demoPayloadBytes?: number;
  log?: (line: string) => void;
}

export interface SeedResult {
  adminCreated: boolean;
  teamId: string;
  enrollmentToken: string;
  demoReference: string;
  demoDigest: string;
}

export const demoRepository = 'demo/macos';
export const demoTag = '15.2';

export async function seed(options: SeedOptions): Promise<SeedResult> {
  const { deps } = options;
  const log = options.log ?? (() => {});
  let adminCreated = false;
  if (!(await deps.db.user.findUnique({ where: { email: options.adminEmail } }))) {
    await createUser(deps, { email: options.adminEmail, name: 'Admin', password: options.adminPassword, role: 'admin' });
    adminCreated = true;
    log(`created admin ${options.adminEmail}`);
  }
  const team = await deps.db.team.upsert({ where: { name: 'Platform' }, create: { name: 'Platform' }, update: {} });
  const admin = await deps.db.user.findUniqueOrThrow({ where: { email: options.adminEmail } });
  await deps.db.membership.upsert({
    where: { userId_teamId: { userId: admin.id, teamId: team.id } },
    create: { userId: admin.id, teamId: team.id, role: 'admin' },
    update: {},
  });

  const demoReference = `${options.registryHost}/${demoRepository}:${demoTag}`;
  const client = new RegistryClient();
  let demoDigest: string;
  try {
    demoDigest = (await client.repository(options.registryHost, demoRepository).resolve(demoTag)).digest;
  } catch (error) {
    if (!isOciError(error, 'NOT_FOUND')) throw error;
    // A synthetic IPSW (a real zip with Apple's plists and a random restore image), published the
    // way an admin publishes a real one: `cider image push`.
    const payload = await makeSyntheticIpsw({ dir: options.workDir, version: demoTag, build: '24C101', payloadBytes: options.demoPayloadBytes ?? 32 * 1024 * 1024 });
    try {
      const pushed = await pushIpsw({ client, path: payload, repository: `${options.registryHost}/${demoRepository}`, description: 'Demo image: a synthetic IPSW made by the seed' });
      demoDigest = pushed.digest;
    } finally {
      await rm(payload, { force: true });
    }
    log(`pushed demo image ${demoReference} (${demoDigest})`);
  } finally {
    await client.close();
  }

  const { token } = await createEnrollmentToken(deps, { userId: admin.id, label: admin.email }, { name: 'demo agents', usesLeft: 10, expiresInHours: 24 });
  return { adminCreated, teamId: team.id, enrollmentToken: token, demoReference, demoDigest };
}
