// Cache directory safety, with real files, owners and modes (the suite runs as root here, so it
// can hand directories to other uids): a cache someone else could write into is refused; links
// planted in the cache never redirect a write or a read; payloads are placed as clones where the
// filesystem has them (a real XFS with reflinks on a loop device when this machine can mount
// one) and as read-only hard links otherwise.
import { copyFile, chmod, chown, lstat, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uniqueRepository } from '@cider/services/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sha256 } from '../digest.ts';
import { pull } from '../pull.ts';
import { digestFile, pushArtifact } from '../push.ts';
import { mountReflinkDisk, useRegistryFixture, writeRandomFile, type SmallDisk } from '../../testing/index.ts';
import { filesystemPlacer, HostCache, type ImageRecord, type PayloadPlacer } from './cache.ts';
import { CacheLinkError } from './fsutil.ts';
import { fsck } from './maintenance.ts';
import { assertSafeCacheDirectory, UnsafeCacheDirectoryError } from './ownership.ts';

const MiB = 1024 * 1024;
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

describe.runIf(isRoot)('who may own a cache directory (real owners and modes)', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cider-owner-'));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  async function dir(name: string, owner: number, mode: number): Promise<string> {
    const path = join(work, name);
    await mkdir(path);
    await chown(path, owner, owner);
    await chmod(path, mode);
    return path;
  }

  it('as root: accepts its own 0755 directory, refuses one owned by another uid or writable by group or others, saying how to fix it', async () => {
    const root = { uid: 0 };
    await expect(assertSafeCacheDirectory(await dir('root-ok', 0, 0o755), root)).resolves.toBeUndefined();
    const foreign = await dir('root-foreign', 1234, 0o755);
    await expect(assertSafeCacheDirectory(foreign, root)).rejects.toThrow(/owned by uid 1234.*sudo chown -R root/);
    await expect(assertSafeCacheDirectory(await dir('root-group', 0, 0o775), root)).rejects.toThrow(/writable by group or others \(mode 0775\).*chmod go-w/);
    await expect(assertSafeCacheDirectory(await dir('root-world', 0, 0o757), root)).rejects.toThrow(UnsafeCacheDirectoryError);
    // Sticky and world-writable (like /tmp) is still writable by others.
    await expect(assertSafeCacheDirectory(await dir('root-sticky', 0, 0o1777), root)).rejects.toThrow(/mode 0777/);
  });

  it('as another user: must own it (or root must), and it must not be world-writable', async () => {
    const user = { uid: 1234 };
    await expect(assertSafeCacheDirectory(await dir('user-ok', 1234, 0o775), user)).resolves.toBeUndefined();
    await expect(assertSafeCacheDirectory(await dir('user-root-owned', 0, 0o755), user)).resolves.toBeUndefined();
    await expect(assertSafeCacheDirectory(await dir('user-foreign', 999, 0o755), user)).rejects.toThrow(/owned by uid 999.*chown -R 1234/);
    await expect(assertSafeCacheDirectory(await dir('user-world', 1234, 0o777), user)).rejects.toThrow(/writable by everyone.*chmod o-w/);
  });

  it('HostCache.open refuses an unsafe directory before writing anything into it, and a layout directory that is a link', async () => {
    const foreign = await dir('open-foreign', 1234, 0o755);
    await expect(HostCache.open(foreign)).rejects.toThrow(UnsafeCacheDirectoryError);
    await expect(stat(join(foreign, 'index.json'))).rejects.toMatchObject({ code: 'ENOENT' });

    const elsewhere = await dir('open-elsewhere', 0, 0o755);
    const cacheRoot = await dir('open-linked', 0, 0o755);
    await symlink(elsewhere, join(cacheRoot, 'blobs'));
    await expect(HostCache.open(cacheRoot)).rejects.toThrow(CacheLinkError);
    await expect(stat(join(elsewhere, 'sha256'))).rejects.toMatchObject({ code: 'ENOENT' });

    // The cache root itself may be a link to where the space is; its target is what is checked.
    const target = await dir('open-target', 0, 0o755);
    await symlink(target, join(work, 'open-root-link'));
    await expect(HostCache.open(join(work, 'open-root-link'))).resolves.toBeInstanceOf(HostCache);
  });
});

describe('links planted in the cache', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cider-links-'));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  async function victim(name: string): Promise<string> {
    const path = join(work, `${name}-victim.txt`);
    await writeFile(path, 'precious\n');
    return path;
  }

  it('a link where an ingest data file goes: the write is refused and its target untouched', async () => {
    const cache = await HostCache.open(join(work, 'ingest-data'));
    const bytes = Buffer.from('some blob');
    const digest = sha256(bytes);
    const target = await victim('data');
    await mkdir(cache.layout.ingestPath(digest), { recursive: true });
    await symlink(target, join(cache.layout.ingestPath(digest), 'data'));
    const ingest = await cache.openIngest(digest, bytes.length);
    if (ingest === 'exists') throw new Error('unexpected');
    await expect(ingest.prepare(bytes.length)).rejects.toThrow(CacheLinkError);
    await ingest.close();
    expect(await readFile(target, 'utf8')).toBe('precious\n');
    expect(await cache.hasBlob(digest)).toBe(false);
  });

  it('a link in place of an ingest directory: refused before anything is written through it', async () => {
    const cache = await HostCache.open(join(work, 'ingest-dir'));
    const bytes = Buffer.from('another blob');
    const digest = sha256(bytes);
    const elsewhere = join(work, 'ingest-elsewhere');
    await mkdir(elsewhere);
    await symlink(elsewhere, cache.layout.ingestPath(digest));
    await expect(cache.putBlob(digest, bytes)).rejects.toThrow(CacheLinkError);
    expect(await readFile(join(elsewhere, 'lock'), 'utf8').catch(() => 'absent')).toBe('absent');
  });

  it('a link in place of index.json: updates and reads are refused, its target untouched', async () => {
    const cache = await HostCache.open(join(work, 'index'));
    const bytes = Buffer.from('{}');
    const digest = sha256(bytes);
    await cache.putBlob(digest, bytes);
    const target = await victim('index');
    await rm(cache.layout.indexFile);
    await symlink(target, cache.layout.indexFile);
    await expect(cache.addToIndex({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size: bytes.length }, { tag: 'x' })).rejects.toThrow(CacheLinkError);
    await expect(cache.listImages()).rejects.toThrow(/symbolic link/);
    expect(await readFile(target, 'utf8')).toBe('precious\n');
    expect((await lstat(cache.layout.indexFile)).isSymbolicLink()).toBe(true);
  });

  it('a link in place of a blob: never read through, never hard-linked into an image', async () => {
    const cache = await HostCache.open(join(work, 'blob'));
    const target = await victim('blob');
    const digest = sha256(await readFile(target));
    await symlink(target, cache.blobPath(digest));
    await expect(cache.readBlob(digest)).rejects.toThrow(CacheLinkError);
    const record: ImageRecord = { manifest: sha256(Buffer.from('m')), mediaType: 'm', files: [{ name: 'payload', digest, size: 9, mediaType: 'x' }], size: 9, pulledAt: new Date().toISOString() };
    await expect(cache.materialize(record)).rejects.toThrow(CacheLinkError);
    expect((await stat(target)).nlink).toBe(1);
    // fsck quarantines the link itself, without reading through it.
    const report = await fsck(cache);
    expect(report.quarantined).toEqual([expect.objectContaining({ digest, problem: 'it is a symbolic link' })]);
    expect(await readFile(target, 'utf8')).toBe('precious\n');
  });
});

describe('payload placement: clone where the filesystem has them, read-only hard link otherwise (real registry)', () => {
  const fixture = useRegistryFixture('placement');
  const repository = uniqueRepository('placement');
  let reference: string;
  let payloadDigest: string;
  let reflink: SmallDisk | undefined;

  beforeAll(async () => {
    const payload = join(fixture.work, 'disk.img');
    await writeRandomFile(payload, 3 * MiB + 5);
    payloadDigest = (await digestFile(payload)).digest;
    reference = `${inject('registryHost')}/${repository}:1`;
    await pushArtifact({ client: fixture.client, reference, files: [{ path: payload }] });
  });
  afterAll(async () => {
    await reflink?.close();
  });

  async function placedFile(cache: HostCache) {
    const result = await pull({ client: fixture.client, cache, reference, headroomBytes: 0 });
    const record = JSON.parse(await readFile(join(result.imagePath!, 'image.json'), 'utf8')) as ImageRecord;
    const path = join(result.imagePath!, 'disk.img');
    return { record, path, placed: await stat(path), blob: await stat(cache.blobPath(payloadDigest)) };
  }

  it('on a filesystem without clones (this one): a hard link, read-only, recorded in image.json', async () => {
    const cache = await HostCache.open(join(fixture.work, 'linked'));
    const { record, placed, blob } = await placedFile(cache);
    expect(record.files[0]!.placement).toBe('link');
    expect(placed.ino).toBe(blob.ino);
    expect(placed.mode & 0o222).toBe(0);
    expect((await fsck(cache)).ok).toBe(true);
  });

  it('where the filesystem clones: a clone, so writing to it leaves the verified blob as it was', async () => {
    reflink = await mountReflinkDisk(fixture.work, 'xfs');
    let placer: PayloadPlacer = filesystemPlacer;
    if (reflink.kind === 'unavailable') {
      // No XFS here: the clone call is stood in for by a copy, behind the same interface.
      console.info(`placement test: no reflink filesystem (${reflink.reason}); clone stood in for by copyFile`);
      placer = { clone: (source, target) => copyFile(source, target), link: filesystemPlacer.link };
    } else console.info(`placement test: real clones on ${reflink.kind} at ${reflink.dir}`);
    const cache = await HostCache.open(join(reflink.dir, 'cache'), { placer });
    const { record, path, placed, blob } = await placedFile(cache);
    expect(record.files[0]!.placement).toBe('clone');
    expect(placed.ino).not.toBe(blob.ino);
    expect(placed.mode & 0o222).toBe(0);
    expect((await fsck(cache)).ok).toBe(true);

    // A VM tool running as root writes to its disk image anyway: the blob keeps its digest.
    await writeFile(path, 'overwritten by a VM tool');
    expect((await digestFile(cache.blobPath(payloadDigest))).digest).toBe(payloadDigest);
    const report = await fsck(cache);
    expect(report.brokenImages).toEqual([expect.objectContaining({ path, problem: expect.stringMatching(/content hashes to/) })]);
  });
});
