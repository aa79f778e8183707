// Reading what an IPSW is from synthetic IPSWs: real zips with real plists, at several sizes.
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, open, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yazl from 'yazl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isOciError } from '../errors.ts';
import { defaultMacDevices, makeSyntheticIpsw, writeRandomFile } from '../../testing/index.ts';
import { inspectIpsw, osForDevices } from './ipsw.ts';

const MiB = 1024 * 1024;

/** Bytes this process has read through read(2) and friends so far (Linux). */
function bytesRead(): number | undefined {
  if (!existsSync('/proc/self/io')) return undefined;
  const match = /rchar: (\d+)/.exec(readFileSync('/proc/self/io', 'utf8'));
  return match ? Number(match[1]) : undefined;
}

async function inspectError(path: string): Promise<Error> {
  const error = await inspectIpsw(path).then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  if (!error) throw new Error(`${path} was accepted`);
  return error;
}

describe('inspectIpsw', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cider-ipsw-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    { payloadBytes: 1024, zip64: false },
    { payloadBytes: 3 * MiB, zip64: true },
    { payloadBytes: 48 * MiB, zip64: false },
  ])('reads OS, version, build, devices and architecture ($payloadBytes bytes of payload, zip64 $zip64)', async ({ payloadBytes, zip64 }) => {
    const path = await makeSyntheticIpsw({ dir, payloadBytes, zip64, name: `mac-${payloadBytes}.ipsw` });
    const before = bytesRead();
    const info = await inspectIpsw(path);
    const after = bytesRead();
    expect(info).toMatchObject({ os: 'macOS', version: '15.2', build: '24C101', architecture: 'arm64', name: `mac-${payloadBytes}.ipsw` });
    expect(info.devices).toEqual([...defaultMacDevices].sort());
    expect(info.size).toBeGreaterThan(payloadBytes);
    expect(info.sources.sort()).toEqual(['BuildManifest.plist', 'Restore.plist']);
    // Only the zip directory and the two plists are read, never the payload.
    if (before !== undefined && after !== undefined && payloadBytes >= 48 * MiB) expect(after - before).toBeLessThan(2 * MiB);
  });

  it('tells iOS and iPadOS restore images apart by their devices', async () => {
    const path = await makeSyntheticIpsw({ dir, version: '18.2', build: '22C152', devices: ['iPhone17,1', 'iPhone17,2'], name: 'iPhone.ipsw' });
    expect(await inspectIpsw(path)).toMatchObject({ os: 'iOS', version: '18.2', build: '22C152' });
    expect(osForDevices(['iPad16,3'])).toBe('iPadOS');
    expect(osForDevices(['Toaster1,1'])).toBeUndefined();
  });

  it('works from Restore.plist alone', async () => {
    const path = await makeSyntheticIpsw({ dir, withoutBuildManifest: true, name: 'restore-only.ipsw' });
    expect(await inspectIpsw(path)).toMatchObject({ os: 'macOS', version: '15.2', build: '24C101', sources: ['Restore.plist'] });
  });

  it('never writes to the IPSW', async () => {
    const path = await makeSyntheticIpsw({ dir, payloadBytes: 2 * MiB, name: 'untouched.ipsw' });
    const before = await readFile(path);
    await inspectIpsw(path);
    expect((await readFile(path)).equals(before)).toBe(true);
  });

  it('refuses a file that is not a zip, saying so', async () => {
    const path = join(dir, 'random.ipsw');
    await writeRandomFile(path, 256 * 1024);
    const error = await inspectError(path);
    expect(isOciError(error, 'INVALID_IMAGE')).toBe(true);
    expect(error.message).toMatch(/random\.ipsw is not a usable IPSW: it is not a zip archive/);
  });

  it('refuses a truncated IPSW, saying it looks truncated', async () => {
    const path = await makeSyntheticIpsw({ dir, payloadBytes: 4 * MiB, name: 'truncated.ipsw' });
    const handle = await open(path, 'r');
    const { size } = await handle.stat();
    await handle.close();
    await truncate(path, Math.floor(size / 2));
    const error = await inspectError(path);
    expect(isOciError(error, 'INVALID_IMAGE')).toBe(true);
    // Cut in half the zip directory at the end is gone: it reads as "no zip directory" or "cut off".
    expect(error.message).toMatch(/truncated\.ipsw is not a usable IPSW: (it is not a zip archive|its zip directory is cut off)/);
    expect(error.message).toMatch(/download/i);
  });

  it('refuses a zip that is not an IPSW, and an IPSW whose plist is broken', async () => {
    const zipPath = join(dir, 'photos.zip');
    const zip = new yazl.ZipFile();
    zip.addBuffer(Buffer.from('hello'), 'hello.txt');
    zip.end();
    const chunks: Buffer[] = [];
    for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer);
    await writeFile(zipPath, Buffer.concat(chunks));
    expect((await inspectError(zipPath)).message).toMatch(/holds neither BuildManifest\.plist nor Restore\.plist/);

    const broken = await makeSyntheticIpsw({ dir, buildManifestBytes: Buffer.from('<?xml version="1.0"?><plist><dict><key>x'), name: 'broken.ipsw' });
    expect((await inspectError(broken)).message).toMatch(/BuildManifest\.plist is not a readable property list/);
  });

  it('refuses an empty file and a missing one', async () => {
    const empty = join(dir, 'empty.ipsw');
    await writeFile(empty, '');
    expect((await inspectError(empty)).message).toMatch(/the file is empty/);
    expect(isOciError(await inspectError(join(dir, 'nope.ipsw')), 'NOT_FOUND')).toBe(true);
  });

  it('refuses plists that disagree with each other or name no real build', async () => {
    const odd = await makeSyntheticIpsw({ dir, build: 'banana', name: 'odd-build.ipsw' });
    expect((await inspectError(odd)).message).toMatch(/ProductBuildVersion "banana" is not an Apple build number/);
  });
});
