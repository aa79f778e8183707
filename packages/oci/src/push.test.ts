// Manifest pushes, deletes, tag listing and chunked artifact pushes against a real registry
// (Debian's docker-registry, CNCF distribution 2.8.2, delete enabled).
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { uniqueRepository } from '@cider/services/testing';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { sha256 } from './digest.ts';
import { DigestMismatchError, NotFoundError, RegistryError } from './errors.ts';
import { emptyConfig, encodeManifest, type ImageManifest } from './manifest.ts';
import { MediaType } from './media-types.ts';
import { pushArtifact } from './push.ts';
import type { RegistryClient } from './registry/client.ts';
import type { Repository } from './registry/repository.ts';
import { assertValidOci, useRegistryFixture, writeRandomFile, type FaultProxy } from '../testing/index.ts';

const MiB = 1024 * 1024;

/**
 * distribution 2.8 ignores `n` and `last` on tags/list and answers everything at once. This shim
 * pages the registry's real answer the way the spec ("Listing Tags") describes, Link header
 * included, so the client's pagination is exercised against real tags.
 */
async function startTagPager(upstream: string): Promise<{ host: string; calls: string[]; close(): Promise<void> }> {
  const calls: string[] = [];
  const server: Server = createServer((req, res) => {
    calls.push(req.url ?? '');
    const url = new URL(req.url ?? '/', 'http://pager');
    void fetch(`${upstream}${url.pathname}`).then(async (answer) => {
      const all = (await answer.json()) as { name: string; tags: string[] | null };
      const tags = [...(all.tags ?? [])].sort();
      const last = url.searchParams.get('last');
      const n = Number(url.searchParams.get('n') ?? tags.length);
      const page = tags.filter((tag) => last === null || tag > last).slice(0, n);
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (page.length > 0 && page.at(-1) !== tags.at(-1)) headers.link = `<${url.pathname}?n=${n}&last=${encodeURIComponent(page.at(-1)!)}>; rel="next"`;
      res.writeHead(200, headers);
      res.end(JSON.stringify({ name: all.name, tags: page }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('manifests, deletes and tags (real docker-registry)', () => {
  const fixture = useRegistryFixture('push', { retry: { retries: 2, baseDelayMs: 10, maxDelayMs: 50 } });
  let work: string;
  let client: RegistryClient;
  let proxy: FaultProxy;
  const direct = (repository: string) => client.repository(inject('registryHost'), repository);

  /** Pushes an artifact of one small layer, with a manifest that validates against the image-spec schema. */
  async function pushSmall(repo: Repository, text: string, reference: string): Promise<{ manifest: ImageManifest; bytes: Buffer; digest: ReturnType<typeof sha256> }> {
    const layer = Buffer.from(text);
    await repo.pushBlob({ digest: sha256(layer), size: layer.length, open: () => layer });
    await repo.pushBlob({ digest: emptyConfig.descriptor.digest, size: 2, open: () => emptyConfig.bytes });
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      artifactType: 'application/vnd.cider.test.v1',
      config: emptyConfig.descriptor,
      layers: [{ mediaType: MediaType.octetStream, digest: sha256(layer), size: layer.length }],
      annotations: { 'org.opencontainers.image.title': text },
    };
    assertValidOci('manifest', manifest);
    const encoded = encodeManifest(manifest);
    const descriptor = await repo.pushManifest(encoded.bytes, encoded.mediaType, reference);
    expect(descriptor).toEqual({ mediaType: MediaType.ociManifest, digest: encoded.digest, size: encoded.bytes.length });
    return { manifest, bytes: encoded.bytes, digest: encoded.digest };
  }

  beforeAll(async () => {
    ({ work, proxy, client } = fixture);
  });

  it('pushes a manifest by tag and by digest', async () => {
    const repo = direct(uniqueRepository('manifests'));
    const tagged = await pushSmall(repo, 'by tag', 'v1');
    expect(await repo.resolve('v1')).toEqual({ mediaType: MediaType.ociManifest, digest: tagged.digest, size: tagged.bytes.length });

    // By digest: pullable by that digest, and no tag names it.
    const manifest: ImageManifest = { ...tagged.manifest, annotations: { 'org.opencontainers.image.title': 'by digest' } };
    assertValidOci('manifest', manifest);
    const encoded = encodeManifest(manifest);
    await repo.pushManifest(encoded.bytes, encoded.mediaType, encoded.digest);
    const fetched = await repo.fetchManifest(encoded.digest);
    expect(fetched.bytes.equals(encoded.bytes)).toBe(true);
    expect(fetched.descriptor.artifactType).toBe('application/vnd.cider.test.v1');
    expect(await repo.listTags()).toEqual(['v1']);

    // A digest that does not match the bytes is refused before anything is sent.
    await expect(repo.pushManifest(encoded.bytes, encoded.mediaType, tagged.digest)).rejects.toThrow(DigestMismatchError);
  });

  it('deletes a manifest by digest: it and its tags are gone', async () => {
    const repo = direct(uniqueRepository('delete'));
    const { digest } = await pushSmall(repo, 'doomed', 'v1');
    await repo.deleteManifest(digest);
    await expect(repo.fetchManifest(digest)).rejects.toThrow(NotFoundError);
    await expect(repo.fetchManifest('v1')).rejects.toThrow(NotFoundError);
    const again = await repo.deleteManifest(digest).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(NotFoundError);
    expect((again as Error).message).toMatch(/Cannot delete manifest .*@sha256:[0-9a-f]{64} at 127\.0\.0\.1:\d+: it does not exist/);
  });

  it('explains that distribution 2.8 cannot delete tags, and leaves the tag alone', async () => {
    const repo = direct(uniqueRepository('delete-tag'));
    const { digest } = await pushSmall(repo, 'keep', 'v1');
    const error = await repo.deleteTag('v1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryError);
    expect((error as RegistryError).request.status).toBe(400);
    expect((error as Error).message).toMatch(/cannot delete tags .* Delete the manifest by digest/);
    expect((await repo.resolve('v1')).digest).toBe(digest);
    await expect(repo.deleteManifest('v1' as never)).rejects.toThrow(/takes a digest/);
  });

  it('deletes a blob', async () => {
    const repo = direct(uniqueRepository('delete-blob'));
    const blob = Buffer.from('a blob to delete');
    await repo.pushBlob({ digest: sha256(blob), size: blob.length, open: () => blob });
    await repo.deleteBlob(sha256(blob));
    expect(await repo.blobExists(sha256(blob))).toBeUndefined();
    await expect(repo.deleteBlob(sha256(blob))).rejects.toThrow(NotFoundError);
  });

  it('says plainly when deletes are disabled (405)', async () => {
    const repository = uniqueRepository('no-delete');
    const { digest } = await pushSmall(direct(repository), 'kept', 'v1');
    proxy.setRule((req) =>
      req.method === 'DELETE' ? { kind: 'status', status: 405, body: JSON.stringify({ errors: [{ code: 'UNSUPPORTED', message: 'The operation is unsupported.' }] }) } : undefined,
    );
    const error = await client.repository(proxy.host, repository).deleteManifest(digest).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryError);
    expect((error as Error).message).toMatch(/^Deletes are disabled on this registry .*storage\.delete\.enabled/);
  });

  it('lists tags across pages: n, Link and last', async () => {
    const repository = uniqueRepository('tags');
    const repo = direct(repository);
    const { bytes } = await pushSmall(repo, 'tagged five times', 'a1');
    for (const tag of ['a2', 'b1', 'b2', 'c1']) await repo.pushManifest(bytes, MediaType.ociManifest, tag);

    // distribution 2.8 answers all tags in one page whatever `n` says.
    expect((await repo.listTags({ pageSize: 2 })).sort()).toEqual(['a1', 'a2', 'b1', 'b2', 'c1']);

    const pager = await startTagPager(inject('registryUrl'));
    try {
      const tags = await client.repository(pager.host, repository).listTags({ pageSize: 2 });
      expect(tags).toEqual(['a1', 'a2', 'b1', 'b2', 'c1']);
      expect(pager.calls).toEqual([`/v2/${repository}/tags/list?n=2`, `/v2/${repository}/tags/list?n=2&last=a2`, `/v2/${repository}/tags/list?n=2&last=b2`]);
    } finally {
      await pager.close();
    }
  });

  it('pushArtifact sends files above monolithicThreshold in chunks, and reports upload progress', async () => {
    const file = join(work, 'payload.bin');
    const size = 3 * MiB + 512 * 1024;
    await writeRandomFile(file, size);
    const repository = uniqueRepository('artifact');
    const uploaded: number[] = [];
    const pushed = await pushArtifact({
      client,
      reference: `${proxy.host}/${repository}:v1`,
      files: [{ path: file }],
      chunkSize: MiB,
      monolithicThreshold: 2 * MiB,
      onProgress: (event) => {
        if (event.phase === 'uploading') uploaded.push(event.bytesDone);
      },
    });
    assertValidOci('manifest', pushed.manifest);
    const patches = proxy.requests.filter((r) => r.method === 'PATCH').map((r) => r.headers['content-range']);
    expect(patches).toEqual(['0-1048575', '1048576-2097151', '2097152-3145727', `3145728-${size - 1}`]);
    expect(uploaded).toEqual([MiB, 2 * MiB, 3 * MiB, size, size]);
    const layer = pushed.manifest.layers[0]!;
    const body = (await direct(repository).fetchBlob(layer.digest)).body;
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(await readFile(file))).toBe(true);
  });
});
