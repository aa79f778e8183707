// Seed data for a fresh system: an admin account, a team, a demo image in the registry, and an
// enrollment token for the demo agents. Safe to run again: it adds only what is missing.
import { join } from 'node:path';
import { createEnrollmentToken, createUser, type ServiceDeps } from '@cider/api/services';
import { CiderMediaType, isOciError, pushArtifact, RegistryClient } from '@cider/oci';
import { writeRandomFile } from '@cider/oci/testing';

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
    // Until IPSW import lands, the demo payload is random bytes under a real IPSW's name.
    const payload = join(options.workDir, 'UniversalMac_15.2_24C101_Restore.ipsw');
    await writeRandomFile(payload, options.demoPayloadBytes ?? 32 * 1024 * 1024);
    const config = { os: 'macOS', version: '15.2', build: '24C101', architecture: 'arm64', devices: ['VirtualMac2,1'], payload: { name: 'UniversalMac_15.2_24C101_Restore.ipsw' } };
    const pushed = await pushArtifact({
      client,
      reference: demoReference,
      files: [{ path: payload, mediaType: CiderMediaType.ipsw }],
      artifactType: CiderMediaType.artifact,
      config: { mediaType: CiderMediaType.config, bytes: Buffer.from(JSON.stringify(config)) },
      annotations: { 'org.opencontainers.image.version': '15.2', 'org.opencontainers.image.title': 'macOS 15.2 (24C101) demo' },
    });
    demoDigest = pushed.digest;
    log(`pushed demo image ${demoReference} (${demoDigest})`);
  } finally {
    await client.close();
  }

  const { token } = await createEnrollmentToken(deps, { userId: admin.id, label: admin.email }, { name: 'demo agents', usesLeft: 10, expiresInHours: 24 });
  return { adminCreated, teamId: team.id, enrollmentToken: token, demoReference, demoDigest };
}
