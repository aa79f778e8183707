// Images of a spec's own: fresh random content pushed to the stack's registry, so no node holds
// them yet (the demo image is already on every node by the time later specs run).
import { randomBytes } from 'node:crypto';
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
}

export async function pushFreshImage(registryHost: string, image: FreshImage): Promise<{ reference: string; digest: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'cider-e2e-image-'));
  const client = new RegistryClient();
  try {
    const file = join(dir, image.fileName);
    await writeFile(file, randomBytes(image.bytes));
    const reference = `${registryHost}/${image.repository}:${image.tag}`;
    const pushed = await pushArtifact({ client, reference, files: [{ path: file }] });
    return { reference, digest: pushed.digest };
  } finally {
    await client.close();
    await rm(dir, { recursive: true, force: true });
  }
}
