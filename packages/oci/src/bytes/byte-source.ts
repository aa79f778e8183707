// Where a payload's bytes come from when it is published: a local file, or a URL read with HTTP
// Range requests (./url-source.ts) so that a 17 GB IPSW is never written to local disk. Two kinds
// of reads: small positioned ones (the zip directory and plists of an IPSW), and one front-to-back
// stream per upload, which a remote source resumes by itself after a dropped connection.
import { createReadStream } from 'node:fs';
import { open as openFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Readable } from 'node:stream';
import { OciError, SizeMismatchError } from '../errors.ts';

export interface ByteSource {
  /** The file's name (the image's layer title): the path's or URL's last segment. */
  readonly name: string;
  /** What people read in messages: the path, or the URL without credentials or query. */
  readonly description: string;
  /** Bytes in all; fixed for the source's life (a remote file that changes is an error). */
  readonly size: number;
  /** Exactly `length` bytes from `position` (a short read is an error). For small reads only. */
  read(position: number, length: number, signal?: AbortSignal): Promise<Buffer>;
  /** Bytes [start, end) in order. A remote source resumes by itself after drops, within its limits. */
  stream(start: number, end: number, signal?: AbortSignal): Readable;
  /** Lets go of open files or connections. */
  close(): Promise<void>;
}

/** A local file as a ByteSource. */
export async function fileSource(path: string): Promise<ByteSource> {
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new OciError('NOT_FOUND', `Cannot read ${path}: no such file`);
  if (!info.isFile()) throw new OciError('INVALID_IMAGE', `${path} is not a file`);
  const size = info.size;
  return {
    name: basename(path),
    description: path,
    size,
    async read(position, length) {
      const bytes = Buffer.alloc(length);
      if (length === 0) return bytes;
      const handle = await openFile(path, 'r');
      try {
        const { bytesRead } = await handle.read(bytes, 0, length, position);
        if (bytesRead !== length) throw new SizeMismatchError(length, bytesRead, `bytes at ${position} of ${path} (it changed while being read)`);
        return bytes;
      } finally {
        await handle.close();
      }
    },
    stream(start, end, signal) {
      return createReadStream(path, { start, end: end - 1, highWaterMark: 1024 * 1024, signal });
    },
    async close() {},
  };
}
