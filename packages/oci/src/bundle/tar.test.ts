// The tar headers we write, read back by GNU tar and by our own header index (positioned reads),
// including a 17 GB entry (a sparse file: no disk is used) and a name longer than ustar holds;
// tars GNU tar writes (ustar, pax, GNU long names), indexed by us; and hostile tars, each refused
// with an error naming why instead of a crash, a hang or unbounded reading.
import { execFileSync } from 'node:child_process';
import { mkdtemp, mkdir, open, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OciError } from '../errors.ts';
import { endOfArchive, entryBytes, entryHeader, padding, type TarEntry } from './tar.ts';
import { indexTar, type TarIndexLimits } from './tar-index.ts';

const GB = 1e9;

/** Writes a tar of `files` (data in memory) with our headers; returns its path. */
async function writeTar(path: string, files: { entry: TarEntry; data?: Buffer }[]): Promise<number> {
  const parts: Buffer[] = [];
  for (const { entry, data } of files) {
    parts.push(entryHeader(entry));
    if (data) parts.push(data, padding(data.length));
  }
  parts.push(endOfArchive);
  const bytes = Buffer.concat(parts);
  await writeFile(path, bytes);
  return bytes.length;
}

async function index(path: string, limits?: TarIndexLimits) {
  const handle = await open(path, 'r');
  try {
    return await indexTar(handle, (await handle.stat()).size, path, limits);
  } finally {
    await handle.close();
  }
}

describe('tar headers (ustar + pax)', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cider-tar-'));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('writes entries GNU tar lists and extracts byte for byte, with the sizes entryBytes predicts', async () => {
    const longName = `blobs/sha512/${'ab'.repeat(64)}`; // 141 bytes: a pax path record
    const files = [
      { entry: { name: 'oci-layout', size: 30, type: 'file' as const }, data: Buffer.from('{"imageLayoutVersion":"1.0.0"}') },
      { entry: { name: 'blobs/', size: 0, type: 'directory' as const } },
      { entry: { name: 'blobs/sha512/', size: 0, type: 'directory' as const } },
      { entry: { name: longName, size: 1000, type: 'file' as const }, data: Buffer.alloc(1000, 7) },
      { entry: { name: 'empty', size: 0, type: 'file' as const }, data: Buffer.alloc(0) },
    ];
    const path = join(work, 'small.tar');
    const size = await writeTar(path, files);
    expect(size).toBe(files.reduce((sum, f) => sum + entryBytes(f.entry), 0) + 1024);
    const listed = execFileSync('tar', ['-tf', path], { encoding: 'utf8' }).trim().split('\n');
    expect(listed).toEqual(['oci-layout', 'blobs/', 'blobs/sha512/', longName, 'empty']);
    const out = join(work, 'out');
    await mkdir(out);
    execFileSync('tar', ['-xf', path, '-C', out]);
    expect(execFileSync('cmp', [join(out, longName), '-'], { input: Buffer.alloc(1000, 7) }).length).toBe(0);

    const entries = await index(path);
    expect(entries.map((e) => [e.name, e.type, e.size])).toEqual([
      ['oci-layout', 'file', 30],
      ['blobs', 'directory', 0],
      ['blobs/sha512', 'directory', 0],
      [longName, 'file', 1000],
      ['empty', 'file', 0],
    ]);
    expect(entries[0]!.offset).toBe(512);
  });

  it('encodes a 17 GB entry (pax size + base-256) that GNU tar lists and our index finds by seeking', async () => {
    const size = 17 * GB + 3;
    const header = entryHeader({ name: 'blobs/sha256/ipsw', size, type: 'file' });
    expect(header.length).toBe(1536); // pax header + its records + the ustar header
    expect(entryBytes({ name: 'blobs/sha256/ipsw', size, type: 'file' })).toBe(1536 + Math.ceil(size / 512) * 512);
    const path = join(work, 'huge.tar');
    const tail = entryHeader({ name: 'after', size: 2, type: 'file' });
    await writeFile(path, header);
    // The data is a hole: the file is 17 GB long and takes no disk.
    const dataEnd = header.length + Math.ceil(size / 512) * 512;
    await truncate(path, dataEnd);
    const handle = await open(path, 'r+');
    await handle.write(Buffer.concat([tail, Buffer.from('ok'), padding(2), endOfArchive]), 0, undefined, dataEnd);
    await handle.close();

    const listing = execFileSync('tar', ['-tvf', path], { encoding: 'utf8' });
    expect(listing).toContain(`${size} 1970-01-01 00:00 blobs/sha256/ipsw`);
    expect(listing).toContain('after');
    const entries = await index(path);
    expect(entries).toEqual([
      { name: 'blobs/sha256/ipsw', type: 'file', size, offset: 1536 },
      { name: 'after', type: 'file', size: 2, offset: dataEnd + 512 },
    ]);
  });

  it('indexes what GNU tar writes: ustar with a prefix, pax, and GNU long names', async () => {
    const src = join(work, 'src');
    const deep = join(src, 'd'.repeat(60), 'e'.repeat(60));
    await mkdir(deep, { recursive: true });
    await writeFile(join(deep, 'f'.repeat(90)), 'hello');
    for (const format of ['ustar', 'pax', 'gnu']) {
      const path = join(work, `${format}.tar`);
      execFileSync('tar', [`--format=${format}`, '-cf', path, '-C', src, '.']);
      const files = (await index(path)).filter((e) => e.type === 'file');
      expect(files.map((e) => [e.name, e.size]), format).toEqual([[`${'d'.repeat(60)}/${'e'.repeat(60)}/${'f'.repeat(90)}`, 5]]);
    }
  });

  describe('hostile tars', () => {
    const refused = async (name: string, bytes: Buffer, reason: RegExp, limits?: TarIndexLimits) => {
      const path = join(work, name);
      await writeFile(path, bytes);
      const error = await index(path, limits).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OciError);
      expect((error as OciError).code).toBe('INVALID_BUNDLE');
      expect((error as Error).message).toMatch(reason);
    };
    const file = (name: string, data: Buffer) => Buffer.concat([entryHeader({ name, size: data.length, type: 'file' }), data, padding(data.length)]);

    it('refuses a header whose checksum does not add up', async () => {
      const bytes = Buffer.concat([file('a', Buffer.from('x')), endOfArchive]);
      bytes[10] = 0x41;
      await refused('checksum.tar', bytes, /checksum that does not match \(header at byte 0\)/);
    });

    it('refuses an entry that runs past the end of the file (truncated)', async () => {
      const bytes = file('a', Buffer.alloc(4096, 1)).subarray(0, 2048);
      await refused('truncated.tar', bytes, /entry of 4096 bytes that runs past the end of the file \(2048 bytes; truncated\?\)/);
    });

    it('stops after maxHeaders entries', async () => {
      const bytes = Buffer.concat([...Array.from({ length: 20 }, (_, i) => file(`f${i}`, Buffer.from('x'))), endOfArchive]);
      await refused('many.tar', bytes, /more than 10 entries/, { maxHeaders: 10 });
    });

    it('refuses a pax header larger than the limit, without reading it', async () => {
      const pax = Buffer.from(`${'x'.repeat(100)}`);
      const header = entryHeader({ name: 'PaxHeaders/a', size: 10 * 1024 * 1024, type: 'file' });
      header[156] = 'x'.charCodeAt(0);
      // Recompute the checksum for the changed typeflag.
      header.fill(' ', 148, 156);
      header.write(`${header.reduce((s, b) => s + b, 0).toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
      const bytes = Buffer.concat([header, pax, Buffer.alloc(10 * 1024 * 1024)]);
      await refused('pax.tar', bytes, /pax header of 10485760 bytes \(at most 65536 are read\)/);
    });

    it('refuses a malformed pax record and a name longer than the limit', async () => {
      const long = entryHeader({ name: `${'n/'.repeat(3000)}x`, size: 0, type: 'file' });
      await refused('longname.tar', Buffer.concat([long, endOfArchive]), /a name of 6001 bytes \(at most 4096\)/);
      const bad = Buffer.from(entryHeader({ name: 'n'.repeat(150), size: 0, type: 'file' }));
      bad.write('99', 512, 'ascii'); // the record's length no longer matches
      await refused('badpax.tar', Buffer.concat([bad, endOfArchive]), /malformed pax record/);
    });

    it('refuses a size that is not a number, and a negative base-256 size', async () => {
      const header = entryHeader({ name: 'a', size: 1, type: 'file' });
      const fix = (h: Buffer) => {
        h.fill(' ', 148, 156);
        h.write(`${h.reduce((s, b) => s + b, 0).toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
        return h;
      };
      const text = fix(Buffer.from(header).fill(0x39, 124, 135)); // "9" is not octal
      await refused('nan.tar', Buffer.concat([text, Buffer.alloc(1024)]), /size field that is not a number/);
      const negative = fix(Buffer.from(header).fill(0xff, 124, 136));
      await refused('negative.tar', Buffer.concat([negative, Buffer.alloc(1024)]), /size field that is not a number/);
    });

    it('reads a file that is not a tar at all as an error, not a crash', async () => {
      await refused('text.tar', Buffer.from('this is not a tar file, just some words\n'.repeat(40)), /not a readable tar/);
    });
  });
});
