// The real runners read URLs a catalog named, so they refuse link-local and cloud-metadata
// addresses from the first request on (a hostile or tampered catalog must not make the control
// plane fetch 169.254.169.254), and learn an image's size from a real server on 127.0.0.1.
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RegistryClient } from '@cider/oci';
import { startRangeServer, type RangeServer } from '@cider/oci/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ociTaskRunners } from './oci-runners.ts';

describe('the real server-task runners', () => {
  const runners = ociTaskRunners();
  let work: string;
  let server: RangeServer;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cider-runners-'));
    await writeFile(join(work, 'a.ipsw'), Buffer.alloc(123_457, 7));
    server = await startRangeServer({ files: { '/a.ipsw': join(work, 'a.ipsw') } });
  });
  afterAll(async () => {
    await server.close();
    await rm(work, { recursive: true, force: true });
  });

  it("learns an image's size with one small request", async () => {
    const before = server.requests.length;
    expect(await runners.restoreImageSize(server.url('/a.ipsw'), AbortSignal.timeout(5_000))).toBe(123_457);
    expect(server.requests.length - before).toBe(1);
    expect(server.bytesSent).toBeLessThan(1_000);
  });

  it('refuses a catalog URL at a cloud-metadata address, before any connection', async () => {
    const metadata = 'http://169.254.169.254/latest/meta-data/UniversalMac_15.2_24C101_Restore.ipsw';
    await expect(runners.restoreImageSize(metadata, AbortSignal.timeout(5_000))).rejects.toThrow(/refused to connect to 169\.254\.169\.254/);
    const client = new RegistryClient();
    try {
      const publish = runners.publishFromApple({
        client,
        image: { version: '15.2', build: '24C101', url: metadata, devices: [] },
        repository: '127.0.0.1:9/apple/macos',
        tags: ['15.2'],
        immutableTags: false,
        onProgress: () => {},
        signal: AbortSignal.timeout(5_000),
      });
      await expect(publish).rejects.toThrow(/refused to connect to 169\.254\.169\.254/);
    } finally {
      await client.close();
    }
  });
});
