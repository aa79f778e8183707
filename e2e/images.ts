// Images of a spec's own: fresh random content pushed to the stack's registry, so no node holds
// them yet (the demo image is already on every node by the time later specs run).
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pushArtifact, RegistryClient } from '@cider/oci';

export interface FreshImage {
  /** Repository under the registry host, e.g. `live/thin-path-1a2b`. */
  repository: string;
  tag: string;
  /** The IPSW's file name, which carries the version and build the dashboard shows. */
  fileName: string;
  bytes: number;
  /**
   * Same seed, same image, digest and all (content derived from it, a fixed creation time): for
   * screenshots compared across runs. Without one the content is random.
   */
  seed?: string;
}

/** `bytes` bytes that depend only on `seed`: SHA-256 of the seed and a counter, block after block. */
function seededBytes(seed: string, bytes: number): Buffer {
  const blocks: Buffer[] = [];
  for (let i = 0; i * 32 < bytes; i++) blocks.push(createHash('sha256').update(`${seed}:${i}`).digest());
  return Buffer.concat(blocks).subarray(0, bytes);
}

export async function pushFreshImage(registryHost: string, image: FreshImage): Promise<{ reference: string; digest: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'cider-e2e-image-'));
  const client = new RegistryClient();
  try {
    const file = join(dir, image.fileName);
    await writeFile(file, image.seed === undefined ? randomBytes(image.bytes) : seededBytes(image.seed, image.bytes));
    const reference = `${registryHost}/${image.repository}:${image.tag}`;
    const annotations = image.seed === undefined ? undefined : { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' };
    const pushed = await pushArtifact({ client, reference, files: [{ path: file }], annotations });
    return { reference, digest: pushed.digest };
  } finally {
    await client.close();
    await rm(dir, { recursive: true, force: true });
  }
}
