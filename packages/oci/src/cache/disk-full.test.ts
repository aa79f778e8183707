// A full disk is a state, not a crash: pulls on a real small filesystem (a tmpfs; or, where this
// machine cannot mount one, injected ENOSPC behind the cache's write call, and the test says so)
// from the real registry. The disk fills up mid-pull, the pull fails with the numbers, nothing
// unverified becomes visible, the journal claims only bytes on disk, a repeat on the unchanged
// disk fails before any request, and once space is freed the pull resumes where it stopped.
import { closeSync, openSync, readFileSync, statfsSync, writeSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uniqueRepository } from '@cider/services/testing';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { InsufficientSpaceError } from '../errors.ts';
import { pull } from '../pull.ts';
import { digestFile, pushArtifact } from '../push.ts';
import { pushIpsw } from '../image/publish.ts';
import { RegistryClient } from '../registry/client.ts';
import { makeSyntheticIpsw, mountTmpfs, startFaultProxy, writeRandomFile, type FaultProxy, type SmallDisk } from '../../testing/index.ts';
import { HostCache } from './cache.ts';
import { blobWrites } from './fsutil.ts';
import { fsck } from './maintenance.ts';
import { statfsFreeSpace, type FreeSpaceProbe } from './space.ts';

const MiB = 1024 * 1024;

/** A disk of `capacity` bytes that tests can fill up and empty again. */
interface TestDisk {
  readonly kind: string;
  readonly dir: string;
  readonly freeSpace: FreeSpaceProbe;
  /** Takes space (synchronously: callable from a progress callback) until `leaveFree` is left. */
  fillSync(leaveFree: number): void;
  unfill(): Promise<void>;
  close(): Promise<void>;
}

async function realDisk(mounted: SmallDisk): Promise<TestDisk> {
  const filler = join(mounted.dir, 'filler');
  return {
    kind: `tmpfs (${mounted.dir})`,
    dir: mounted.dir,
    freeSpace: statfsFreeSpace,
    fillSync(leaveFree) {
      const { bavail, bsize } = statfsSync(mounted.dir);
      const free = bavail * bsize;
      const fd = openSync(filler, 'a');
      const piece = Buffer.alloc(MiB, 1);
      try {
        for (let left = free - leaveFree; left > 0; left -= piece.length) writeSync(fd, piece, 0, Math.min(piece.length, left));
      } finally {
        closeSync(fd);
      }
    },
    unfill: () => rm(filler, { force: true }),
    close: () => mounted.close(),
  };
}

/**
 * No mount here: the cache's write call fails with ENOSPC past `capacity` bytes, and free space
 * is read from the same count. Everything else (files, registry, hashing) is real.
 */
function injectedDisk(dir: string, capacity: number, reason: string): TestDisk {
  let used = 0;
  let filled = 0;
  const original = blobWrites.write;
  blobWrites.write = async (handle, buffer, offset, length, position) => {
    const room = capacity - used;
    if (room <= 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
    const result = await original(handle, buffer, offset, Math.min(length, room), position);
    used += result.bytesWritten;
    return result;
  };
  return {
    kind: `injected ENOSPC after ${capacity} bytes (no tmpfs: ${reason})`,
    dir,
    freeSpace: async () => Math.max(0, capacity - used),
    fillSync(leaveFree) {
      filled = Math.max(0, capacity - used - leaveFree);
      used += filled;
    },
    unfill: async () => {
      used -= filled;
      filled = 0;
    },
    close: async () => {
      blobWrites.write = original;
    },
  };
}

describe('a full disk (real registry)', () => {
  let work: string;
  let proxy: FaultProxy;
  let client: RegistryClient;
  const disks: TestDisk[] = [];

  async function smallDisk(name: string, bytes: number): Promise<TestDisk> {
    const mounted = await mountTmpfs(work, name, bytes);
    const disk = mounted.kind === 'tmpfs' ? await realDisk(mounted) : injectedDisk(mounted.dir, bytes, mounted.reason ?? 'unknown');
    disks.push(disk);
    // Said in the test output: which kind of full disk this run used.
    console.info(`disk-full test "${name}": ${disk.kind}`);
    return disk;
  }

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cider-disk-full-'));
    proxy = await startFaultProxy(inject('registryUrl'));
    client = new RegistryClient({ retry: { retries: 1, baseDelayMs: 10, maxDelayMs: 50 } });
  });
  afterEach(async () => {
    proxy.setRule(undefined);
    for (const disk of disks.splice(0)) await disk.close();
  });
  afterAll(async () => {
    await client.close();
    await proxy.close();
    await rm(work, { recursive: true, force: true });
  });

  it('fails a pull that fills the disk with the numbers, keeps only verified state, refuses again offline, and resumes once space is freed', async () => {
    const disk = await smallDisk('fills-up', 64 * MiB);
    const payload = join(work, 'payload.bin');
    const size = 40 * MiB;
    await writeRandomFile(payload, size);
    const repository = uniqueRepository('full');
    const pushed = await pushArtifact({ client, reference: `${proxy.host}/${repository}:1`, files: [{ path: payload }] });
    const payloadDigest = (await digestFile(payload)).digest;
    const cache = await HostCache.open(join(disk.dir, 'cache'));

    // Another program fills the disk once the pull is a few MiB in, leaving 8 MiB.
    let filled = false;
    const error = (await pull({
      client,
      cache,
      reference: `${proxy.host}/${repository}:1`,
      freeSpace: disk.freeSpace,
      headroomBytes: MiB,
      blobFetch: { journalIntervalMs: 20 },
      onProgress: (p) => {
        if (!filled && p.bytesFetched >= 6 * MiB) {
          filled = true;
          disk.fillSync(8 * MiB);
        }
      },
    }).catch((e: unknown) => e)) as InsufficientSpaceError;
    expect(filled).toBe(true);
    expect(error).toBeInstanceOf(InsufficientSpaceError);
    expect(error.code).toBe('INSUFFICIENT_SPACE');
    // What is still to be written plus the headroom, against what the disk has left.
    expect(error.needed).toBeGreaterThan(MiB);
    expect(error.needed).toBeLessThanOrEqual(size + MiB);
    expect(error.available).toBeLessThan(error.needed);
    expect(error.message).toMatch(/needs .*MiB/);

    // Nothing unverified is visible, and the cache is consistent.
    expect(await cache.hasBlob(payloadDigest)).toBe(false);
    expect(await cache.listImages()).toEqual([]);
    expect((await fsck(cache)).ok).toBe(true);

    // The journal claims only bytes that are on disk, and they are the right bytes.
    const ingest = cache.layout.ingestPath(payloadDigest);
    const journal = JSON.parse(await readFile(join(ingest, 'segments.json'), 'utf8')) as { segmentSize: number; done: number[] };
    const data = readFileSync(join(ingest, 'data'));
    const source = readFileSync(payload);
    let claimed = 0;
    journal.done.forEach((done, i) => {
      const start = i * journal.segmentSize;
      expect(data.subarray(start, start + done).equals(source.subarray(start, start + done))).toBe(true);
      claimed += done;
    });
    expect(claimed).toBeGreaterThan(0);
    expect(claimed).toBeLessThan(size);
    expect(await cache.partialBytes(payloadDigest, size)).toBe(claimed);

    // The same digest again on the unchanged disk: the same answer, before any request.
    proxy.requests.length = 0;
    const again = (await pull({ client, cache, reference: `${proxy.host}/${repository}@${pushed.digest}`, freeSpace: disk.freeSpace, headroomBytes: MiB }).catch((e: unknown) => e)) as InsufficientSpaceError;
    expect(again).toBeInstanceOf(InsufficientSpaceError);
    expect(again.needed).toBe(error.needed);
    expect(proxy.requests).toEqual([]);

    // Space comes back: the pull resumes from the partial download and completes.
    await disk.unfill();
    const result = await pull({ client, cache, reference: `${proxy.host}/${repository}:1`, freeSpace: disk.freeSpace, headroomBytes: MiB });
    expect(result.digest).toBe(pushed.digest);
    expect(result.bytesFetched).toBeLessThanOrEqual(size - claimed + 4096);
    expect(await cache.hasBlob(payloadDigest)).toBe(true);
    expect((await fsck(cache)).ok).toBe(true);
  });

  it('counts files joined from parts in the pre-check, refusing before any layer is fetched', async () => {
    const disk = await smallDisk('joined', 96 * MiB);
    const ipsw = await makeSyntheticIpsw({ dir: work, payloadBytes: 24 * MiB, name: 'split.ipsw' });
    const repository = uniqueRepository('full-split');
    const pushed = await pushIpsw({ client, path: ipsw, repository: `${proxy.host}/${repository}`, tags: ['15.2'], chunkSize: 8 * MiB });
    const { size } = await stat(ipsw);
    const cache = await HostCache.open(join(disk.dir, 'cache'));
    // 40 MiB free: the parts alone (about 24 MiB) would fit, parts plus the joined copy do not.
    disk.fillSync(40 * MiB);
    proxy.requests.length = 0;
    const reference = `${proxy.host}/${repository}:15.2`;
    const platform = { os: 'darwin', architecture: 'arm64' };
    const error = (await pull({ client, cache, reference, platform, freeSpace: disk.freeSpace, headroomBytes: MiB }).catch((e: unknown) => e)) as InsufficientSpaceError;
    expect(error).toBeInstanceOf(InsufficientSpaceError);
    expect(error.needed).toBeGreaterThanOrEqual(2 * size);
    const layerGets = proxy.requests.filter((r) => r.method === 'GET' && pushed.manifest.layers.some((l) => r.path.endsWith(l.digest)));
    expect(layerGets).toEqual([]);

    await disk.unfill();
    const result = await pull({ client, cache, reference, platform, freeSpace: disk.freeSpace, headroomBytes: MiB });
    expect((await digestFile(join(result.imagePath!, 'split.ipsw'))).digest).toBe((await digestFile(ipsw)).digest);
    expect((await fsck(cache)).ok).toBe(true);
  });

  it('counts what pulls in flight still have to write: a second pull that would not fit beside them is refused', async () => {
    const disk = await smallDisk('concurrent', 64 * MiB);
    const repository = uniqueRepository('full-two');
    const pushedBySize = new Map<number, string>();
    for (const mib of [30, 20]) {
      const file = join(work, `two-${mib}.bin`);
      await writeRandomFile(file, mib * MiB);
      await pushArtifact({ client, reference: `${proxy.host}/${repository}:${mib}`, files: [{ path: file }] });
      pushedBySize.set(mib, (await digestFile(file)).digest);
    }
    const cache = await HostCache.open(join(disk.dir, 'cache'));
    disk.fillSync(44 * MiB);
    // The 30 MiB pull is slowed down so the 20 MiB one starts while it is still writing.
    const slow = pushedBySize.get(30)!;
    proxy.setRule((r) => (r.path.endsWith(slow) ? { kind: 'throttle', bytesPerSecond: 15 * MiB } : undefined));
    let first: PullState = 'running';
    const firstPull = pull({ client, cache, reference: `${proxy.host}/${repository}:30`, freeSpace: disk.freeSpace, headroomBytes: MiB }).then(
      () => (first = 'done'),
      (e: unknown) => {
        first = 'failed';
        throw e;
      },
    );
    while (cache.space.reservedBytes === 0 && first === 'running') await new Promise((r) => setTimeout(r, 10));
    expect(first).toBe('running');
    // 44 MiB free minus what the first pull has yet to write leaves less than 20 MiB.
    const error = (await pull({ client, cache, reference: `${proxy.host}/${repository}:20`, freeSpace: disk.freeSpace, headroomBytes: MiB }).catch((e: unknown) => e)) as InsufficientSpaceError;
    expect(error).toBeInstanceOf(InsufficientSpaceError);
    expect(error.needed).toBe(21 * MiB);
    await firstPull;
    expect(cache.space.reservedBytes).toBe(0);
    // Space freed (the other program's file is gone): the second pull fits now.
    await disk.unfill();
    const result = await pull({ client, cache, reference: `${proxy.host}/${repository}:20`, freeSpace: disk.freeSpace, headroomBytes: MiB });
    expect(result.size).toBeGreaterThanOrEqual(20 * MiB);
    expect((await fsck(cache)).ok).toBe(true);
  });
});

type PullState = 'running' | 'done' | 'failed';
