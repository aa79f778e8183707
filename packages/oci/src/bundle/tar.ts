// Writing tar headers (POSIX.1-2001 "pax interchange format": a ustar header, preceded by an
// extended header when a value does not fit ustar). Ours, not a library's, for two reasons: the
// bundle's exact size must be known before a byte is written (a download's Content-Length, and
// planBundle's `tarBytes`), and a blob's data is streamed by the caller straight after its header,
// so this file only ever makes headers.
//
// ustar (POSIX.1-1988) header, 512 bytes:
//   name[100] mode[8] uid[8] gid[8] size[12] mtime[12] chksum[8] typeflag[1] linkname[100]
//   magic[6]="ustar\0" version[2]="00" uname[32] gname[32] devmajor[8] devminor[8] prefix[155]
// Numbers are octal, NUL-terminated. `size` holds at most 11 octal digits (8 GiB - 1), and an
// IPSW is 17 GB: a larger size goes in a pax `size` record, and the ustar field then carries
// it in GNU base-256 (high bit set, big-endian) so a reader that skips pax still stays in step.
// A name longer than 100 bytes goes in a pax `path` record.
export const blockSize = 512;
/** Two zero blocks end an archive. */
export const endOfArchive = Buffer.alloc(2 * blockSize);

const maxOctalSize = 0o77777777777; // 11 octal digits
const nameField = 100;

export interface TarEntry {
  name: string;
  size: number;
  type: 'file' | 'directory';
  /** Seconds since the epoch; 0 by default, so the same bundle is the same bytes. */
  mtime?: number;
}

/** Bytes of `size` rounded up to whole blocks. */
export function padded(size: number): number {
  return Math.ceil(size / blockSize) * blockSize;
}

/** Zero bytes that follow `size` bytes of data to fill its last block. */
export function padding(size: number): Buffer {
  return Buffer.alloc(padded(size) - size);
}

/** One pax record, `"<length> <key>=<value>\n"`, where <length> counts the whole record, its own digits included. */
function paxRecord(key: string, value: string): string {
  const rest = ` ${key}=${value}\n`;
  const restBytes = Buffer.byteLength(rest);
  let length = restBytes + 1;
  while (String(length).length + restBytes !== length) length = String(length).length + restBytes;
  return `${length}${rest}`;
}

function paxRecords(entry: TarEntry): string {
  let records = '';
  if (Buffer.byteLength(entry.name) > nameField) records += paxRecord('path', entry.name);
  if (entry.size > maxOctalSize) records += paxRecord('size', String(entry.size));
  return records;
}

function writeOctal(block: Buffer, offset: number, length: number, value: number): void {
  block.write(`${value.toString(8).padStart(length - 1, '0')}\0`, offset, length, 'ascii');
}

/** GNU base-256: the first byte 0x80, then the value big-endian in the remaining bytes. */
function writeBase256(block: Buffer, offset: number, length: number, value: number): void {
  let rest = BigInt(value);
  for (let i = offset + length - 1; i > offset; i--) {
    block[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  block[offset] = 0x80;
}

/** One 512-byte ustar header. A name or size that does not fit is cut here; the pax header before it carries the real value. */
function ustarHeader(name: string, size: number, typeflag: string, mode: number, mtime: number): Buffer {
  const block = Buffer.alloc(blockSize);
  const nameBytes = Buffer.from(name);
  nameBytes.copy(block, 0, 0, Math.min(nameBytes.length, nameField));
  writeOctal(block, 100, 8, mode);
  writeOctal(block, 108, 8, 0); // uid
  writeOctal(block, 116, 8, 0); // gid
  if (size > maxOctalSize) writeBase256(block, 124, 12, size);
  else writeOctal(block, 124, 12, size);
  writeOctal(block, 136, 12, mtime);
  block.write(typeflag, 156, 1, 'ascii');
  block.write('ustar\0', 257, 6, 'ascii');
  block.write('00', 263, 2, 'ascii');
  block.fill(' ', 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return block;
}

/** The header bytes of an entry: a pax extended header when needed, then the ustar header. */
export function entryHeader(entry: TarEntry): Buffer {
  if (entry.name === '' || entry.name.includes('\0')) throw new RangeError(`tar entry name ${JSON.stringify(entry.name)} is empty or holds NUL`);
  if (!Number.isSafeInteger(entry.size) || entry.size < 0) throw new RangeError(`tar entry size ${entry.size} is not a byte count`);
  const mtime = entry.mtime ?? 0;
  const directory = entry.type === 'directory';
  const header = ustarHeader(entry.name, directory ? 0 : entry.size, directory ? '5' : '0', directory ? 0o755 : 0o644, mtime);
  const records = paxRecords(entry);
  if (records === '') return header;
  const data = Buffer.from(records);
  const paxName = `PaxHeaders/${entry.name.slice(entry.name.lastIndexOf('/') + 1)}`.slice(0, nameField);
  return Buffer.concat([ustarHeader(paxName, data.length, 'x', 0o644, mtime), data, padding(data.length), header]);
}

/** Bytes one entry takes in the archive: its headers and its data padded to whole blocks. */
export function entryBytes(entry: TarEntry): number {
  const records = Buffer.byteLength(paxRecords(entry));
  const pax = records === 0 ? 0 : blockSize + padded(records);
  return pax + blockSize + (entry.type === 'directory' ? 0 : padded(entry.size));
}
