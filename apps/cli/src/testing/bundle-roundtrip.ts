// The large-bundle round trip the 1 GiB and 4 GiB tests run: content generated on the fly (a random
// 1 MiB block stamped with a counter, so every MiB differs) pushed into a registry of its own, then
// `cider bundle export`, `verify` and `import` into a second registry as real processes of the CLI
// as it ships (built with tsup), each one's peak RSS read, and the digests compared; optionally
// skopeo copies the image out of the tar too. Both registries' storage and the tar are removed after.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { emptyConfig, encodeManifest, formatBytes, MediaType, RegistryClient, type ImageManifest } from '@cider/oci';
import { skopeo } from '@cider/oci/testing';
import { startRegistry, type RunningRegistry } from '@cider/services';
import { buildCider, runCider, type CiderRun } from './run-cider.ts';

const MiB = 1024 * 1024;

/** `bytes` of content: a random 1 MiB block with the MiB's number in its first 8 bytes. */
function generated(bytes: number): Readable {
  const block = randomBytes(MiB);
  let sent = 0;
  return Readable.from(
    (function* () {
      while (sent < bytes) {
        const chunk = Buffer.from(block.subarray(0, Math.min(MiB, bytes - sent)));
        chunk.writeBigUInt64BE(BigInt(sent / MiB), 0);
        sent += chunk.length;
        yield chunk;
      }
    })(),
  );
}

export interface RoundTripFigures {
  bytes: number;
  tarBytes: number;
  export: CiderRun;
  verify: CiderRun;
  import: CiderRun;
  /** Seconds skopeo took to copy the image out of the tar into a registry, when asked. */
  skopeoSeconds?: number;
  sourceDigest: string;
  importedDigest: string;
  skopeoDigest?: string;
}

/** Fails with a clear message when the disk cannot hold what the round trip writes. */
async function checkDisk(dir: string, needed: number): Promise<void> {
  const stats = await statfs(dir);
  const free = stats.bavail * stats.bsize;
  if (free < needed) throw new Error(`This test writes about ${formatBytes(needed)} under ${dir} (two registries and the bundle) but only ${formatBytes(free)} is free. Free some space and run it again.`);
}

export async function bundleRoundTrip(options: { bytes: number; skopeo: boolean }): Promise<RoundTripFigures> {
  const copies = options.skopeo ? 5 : 3; // source registry, tar, target registry (+ skopeo's unpacked copy and its upload)
  await checkDisk(tmpdir(), copies * options.bytes + 512 * MiB);
  const work = await mkdtemp(join(tmpdir(), 'cider-bundle-big-'));
  const env = { DOCKER_CONFIG: join(work, 'docker') };
  const built = await buildCider(join(work, 'cli'));
  const client = new RegistryClient({ retry: { retries: 2, baseDelayMs: 20, maxDelayMs: 200 } });
  const registries: RunningRegistry[] = [];
  try {
    const source = await startRegistry();
    registries.push(source);
    const target = await startRegistry();
    registries.push(target);

    // The image: the generated payload as its one layer, hashed while it is uploaded.
    const repo = client.repository(source.host, 'site/macos');
    const layer = await repo.pushBlobStream(() => generated(options.bytes), options.bytes, { mediaType: 'application/vnd.cider.ipsw' });
    await repo.pushBlob({ digest: emptyConfig.descriptor.digest, size: 2, open: () => emptyConfig.bytes });
    const manifest: ImageManifest = { schemaVersion: 2, mediaType: MediaType.ociManifest, artifactType: 'application/vnd.cider.image.v1', config: emptyConfig.descriptor, layers: [layer] };
    const encoded = encodeManifest(manifest);
    await repo.pushManifest(encoded.bytes, encoded.mediaType, '15.2');

    const tar = join(work, 'site.tar');
    const exported = await runCider(['bundle', 'export', `${source.host}/site/macos:15.2`, '-o', tar], { env, built });
    if (exported.code !== 0) throw new Error(`cider bundle export failed: ${exported.stderr}`);
    const tarBytes = (await stat(tar)).size;
    const verified = await runCider(['bundle', 'verify', tar], { env, built });
    if (verified.code !== 0) throw new Error(`cider bundle verify failed: ${verified.stdout}${verified.stderr}`);
    const imported = await runCider(['bundle', 'import', tar, target.host], { env, built });
    if (imported.code !== 0) throw new Error(`cider bundle import failed: ${imported.stderr}`);
    const importedDigest = (await client.repository(target.host, 'site/macos').fetchManifest('15.2')).descriptor.digest;

    const figures: RoundTripFigures = { bytes: options.bytes, tarBytes, export: exported, verify: verified, import: imported, sourceDigest: encoded.digest, importedDigest };
    if (options.skopeo) {
      const started = Date.now();
      await skopeo(['copy', '--dest-tls-verify=false', `oci-archive:${tar}:site/macos:15.2`, `docker://${target.host}/skopeo/macos:15.2`]);
      figures.skopeoSeconds = (Date.now() - started) / 1000;
      figures.skopeoDigest = (await client.repository(target.host, 'skopeo/macos').fetchManifest('15.2')).descriptor.digest;
    }
    return figures;
  } finally {
    await client.close();
    for (const registry of registries) await registry.stop();
    await rm(work, { recursive: true, force: true });
  }
}

/** One line per command for the test log: what README quotes. */
export function describeFigures(figures: RoundTripFigures): string {
  const rate = (run: CiderRun) => `${(figures.bytes / MiB / run.seconds).toFixed(0)} MiB/s`;
  const line = (name: string, run: CiderRun) => `${name}: peak RSS ${run.peakRssMB?.toFixed(0) ?? '?'} MB, ${run.seconds.toFixed(1)} s, ${rate(run)}`;
  return [`${formatBytes(figures.bytes)} bundle (${figures.tarBytes} tar bytes)`, line('export', figures.export), line('verify', figures.verify), line('import', figures.import), ...(figures.skopeoSeconds ? [`skopeo copy from the tar: ${figures.skopeoSeconds.toFixed(1)} s`] : [])].join('\n');
}
