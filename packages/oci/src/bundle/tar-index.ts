// Reading a tar's table of contents by its headers alone: positioned reads of 512-byte blocks,
// seeking past each entry's data, so a 17 GB blob costs one read, not 17 GB of streaming (a
// streaming parser such as tar-stream must pass every byte). Entries are then read or streamed
// by offset. Understands what skopeo (Go's archive/tar), GNU tar, bsdtar and ./tar.ts write:
// ustar with a prefix, pax `path` and `size` records, GNU long names and base-256 sizes.
//
// The file is not trusted. Everything it can make us do is bounded: the number of headers, the
// size of a pax header or long name, the length of a name; a checksum that does not add up, a
// number that does not parse or an entry that runs past the end of the file stops the reading
// with an error naming the offset. Names are only ever compared, never used as paths.
import type { FileHandle } from 'node:fs/promises';
import { OciError } from '../errors.ts';
import { blockSize, padded } from './tar.ts';

export interface TarIndexEntry {
  /** The name with any leading `./` removed (and a directory's trailing `/`). */
  name: string;
  type: 'file' | 'directory' | 'other';
  size: number;
  /** Offset of the entry's data in the file. */
  offset: number;
}

export interface TarIndexLimits {
  /** Headers read at most (pax and long-name headers count). Default 200,000. */
  maxHeaders?: number;
  /** Bytes of one pax extended header or GNU long name. Default 64 KiB. */
  maxMetaBytes?: number;
  /** Bytes of a name. Default 4,096. */
  maxNameBytes?: number;
}

const defaults: Required<TarIndexLimits> = { maxHeaders: 200_000, maxMetaBytes: 64 * 1024, maxNameBytes: 4096 };

function invalid(path: string, at: number, reason: string): OciError {
  return new OciError('INVALID_BUNDLE', `${path} is not a readable tar: ${reason} (header at byte ${at}).`);
}

/** A NUL-terminated string field. */
function text(block: Buffer, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return field.subarray(0, end < 0 ? length : end).toString('utf8');
}

/** A numeric field: octal (space or NUL padded), or GNU base-256 when the high bit of its first byte is set. */
function numeric(block: Buffer, offset: number, length: number): number | undefined {
  if ((block[offset]! & 0x80) !== 0) {
    if (block[offset] === 0xff) return undefined; // negative
    let value = BigInt(block[offset]! & 0x7f);
    for (let i = offset + 1; i < offset + length; i++) value = (value << 8n) | BigInt(block[i]!);
    return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : undefined;
  }
  const digits = text(block, offset, length).trim();
  if (digits === '') return 0;
  if (!/^[0-7]+$/.test(digits)) return undefined;
  const value = Number.parseInt(digits, 8);
  return Number.isSafeInteger(value) ? value : undefined;
}

/** The header checksum adds up: unsigned bytes with the checksum field as spaces (some old writers summed signed bytes). */
function checksumMatches(block: Buffer): boolean {
  const stored = numeric(block, 148, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < blockSize; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  return stored === unsigned || stored === signed;
}

/** pax records `"<length> <key>=<value>\n"`; only `path` and `size` matter here. */
function paxRecords(data: Buffer, fail: (reason: string) => OciError): { path?: string; size?: number } {
  const out: { path?: string; size?: number } = {};
  let at = 0;
  while (at < data.length) {
    if (data[at] === 0) break; // padding some writers leave
    const space = data.indexOf(0x20, at);
    const length = space > at && space - at <= 20 ? Number(data.subarray(at, space).toString('ascii')) : NaN;
    if (!Number.isSafeInteger(length) || length <= space - at || at + length > data.length || data[at + length - 1] !== 0x0a) throw fail('a malformed pax record');
    const record = data.subarray(space + 1, at + length - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq < 1) throw fail('a pax record without key=value');
    const [key, value] = [record.slice(0, eq), record.slice(eq + 1)];
    if (key === 'path') out.path = value;
    else if (key === 'size') {
      if (!/^\d{1,16}$/.test(value) || !Number.isSafeInteger(Number(value))) throw fail(`a pax size record "${value.slice(0, 40)}"`);
      out.size = Number(value);
    }
    at += length;
  }
  return out;
}

function normalize(name: string): string {
  let out = name;
  while (out.startsWith('./')) out = out.slice(2);
  while (out.length > 1 && out.endsWith('/')) out = out.slice(0, -1);
  return out;
}

/**
 * Every entry of the tar in `handle` (`fileSize` bytes), in archive order. `path` only names the
 * file in errors.
 */
export async function indexTar(handle: FileHandle, fileSize: number, path: string, limits: TarIndexLimits = {}): Promise<TarIndexEntry[]> {
  const { maxHeaders, maxMetaBytes, maxNameBytes } = { ...defaults, ...limits };
  const entries: TarIndexEntry[] = [];
  const block = Buffer.alloc(blockSize);
  let position = 0;
  let headers = 0;
  let pending: { path?: string; size?: number; longName?: string } = {};

  const readAt = async (into: Buffer, at: number): Promise<void> => {
    const { bytesRead } = await handle.read(into, 0, into.length, at);
    if (bytesRead !== into.length) throw invalid(path, at, `the file ends at byte ${at + bytesRead}, inside an entry (truncated?)`);
  };
  const readMeta = async (at: number, size: number, what: string): Promise<Buffer> => {
    if (size > maxMetaBytes) throw invalid(path, at, `a ${what} of ${size} bytes (at most ${maxMetaBytes} are read)`);
    const data = Buffer.alloc(size);
    await readAt(data, at + blockSize);
    return data;
  };

  for (;;) {
    if (position + blockSize > fileSize) {
      // Some writers end without the two zero blocks; a file that ends between entries is complete.
      if (position === fileSize && Object.keys(pending).length === 0) return entries;
      throw invalid(path, position, `the file ends at byte ${fileSize}, inside a header (truncated?)`);
    }
    await readAt(block, position);
    if (block.every((byte) => byte === 0)) return entries;
    if (++headers > maxHeaders) throw invalid(path, position, `more than ${maxHeaders} entries`);
    if (!checksumMatches(block)) throw invalid(path, position, 'a header checksum that does not match');
    const fail = (reason: string) => invalid(path, position, reason);
    const headerSize = numeric(block, 124, 12);
    if (headerSize === undefined) throw fail('a size field that is not a number');
    const typeflag = String.fromCharCode(block[156]!);
    const size = typeflag === 'x' || typeflag === 'g' || typeflag === 'L' || typeflag === 'K' ? headerSize : (pending.size ?? headerSize);
    const dataOffset = position + blockSize;
    if (dataOffset + size > fileSize) throw fail(`an entry of ${size} bytes that runs past the end of the file (${fileSize} bytes; truncated?)`);
    const next = dataOffset + padded(size);

    if (typeflag === 'x') {
      pending = { ...pending, ...paxRecords(await readMeta(position, size, 'pax header'), fail) };
    } else if (typeflag === 'L') {
      const name = await readMeta(position, size, 'long name');
      const end = name.indexOf(0);
      pending.longName = name.subarray(0, end < 0 ? name.length : end).toString('utf8');
    } else if (typeflag === 'g' || typeflag === 'K') {
      if (size > maxMetaBytes) throw fail(`a ${typeflag === 'g' ? 'global pax header' : 'long link name'} of ${size} bytes`);
    } else {
      const ustar = block.subarray(257, 262).toString('ascii') === 'ustar';
      const prefix = ustar ? text(block, 345, 155) : '';
      const raw = pending.path ?? pending.longName ?? (prefix ? `${prefix}/${text(block, 0, 100)}` : text(block, 0, 100));
      if (Buffer.byteLength(raw) > maxNameBytes) throw fail(`a name of ${Buffer.byteLength(raw)} bytes (at most ${maxNameBytes})`);
      if (raw.includes('\0')) throw fail('a name holding NUL');
      const type = typeflag === '0' || typeflag === '\0' || typeflag === '7' ? 'file' : typeflag === '5' ? 'directory' : 'other';
      entries.push({ name: normalize(raw), type, size: type === 'directory' ? 0 : size, offset: dataOffset });
      pending = {};
    }
    position = next;
  }
}

/** Reads a whole entry that must be small: refused past `limit` bytes. */
export async function readEntry(handle: FileHandle, entry: TarIndexEntry, limit: number, what: string): Promise<Buffer> {
  if (entry.size > limit) throw new OciError('INVALID_BUNDLE', `${what} is ${entry.size} bytes; at most ${limit} are read.`);
  const data = Buffer.alloc(entry.size);
  const { bytesRead } = await handle.read(data, 0, entry.size, entry.offset);
  if (bytesRead !== entry.size) throw new OciError('INVALID_BUNDLE', `${what} ends early: ${bytesRead} of ${entry.size} bytes (the file changed while being read?)`);
  return data;
}
