import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { OciError } from '../errors.ts';

// Every file the cache opens is opened without following a symbolic link in its last
// component (O_NOFOLLOW): a link planted in the cache must never redirect a write of an agent
// running as root to a file elsewhere (nor make it read one). Files are created with O_EXCL,
// which refuses links as well. Directories are checked with lstat (see assertRealDirectory).

/** O_NOFOLLOW where the platform has it (not on Windows, where links need privileges anyway). */
export const noFollow = constants.O_NOFOLLOW ?? 0;

/** A link where the cache expected a file: refused with a message saying what to do. */
export class CacheLinkError extends OciError {
  override name = 'CacheLinkError';
  constructor(readonly path: string) {
    super('CACHE_CORRUPT', `Refusing ${path}: it is a symbolic link, and a cache holds none. Someone planted it; remove it and check who can write to the cache directory.`);
  }
}

function isLinkRefusal(error: unknown): boolean {
  // Linux and macOS say ELOOP for O_NOFOLLOW on a link; FreeBSD says EMLINK.
  const code = (error as NodeJS.ErrnoException)?.code;
  return code === 'ELOOP' || code === 'EMLINK';
}

/** Opens an existing file without following a link ('r' or 'r+'). */
export async function openNoFollow(path: string, mode: 'r' | 'r+' = 'r'): Promise<FileHandle> {
  try {
    return await open(path, (mode === 'r' ? constants.O_RDONLY : constants.O_RDWR) | noFollow);
  } catch (error) {
    if (isLinkRefusal(error)) throw new CacheLinkError(path);
    throw error;
  }
}

/**
 * Creates (or truncates) a file for writing without following a link: O_CREAT|O_TRUNC with
 * O_NOFOLLOW, so a link left where the file goes fails instead of truncating its target.
 */
export async function openForWriteNoFollow(path: string, mode = 0o644): Promise<FileHandle> {
  try {
    return await open(path, constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC | noFollow, mode);
  } catch (error) {
    if (isLinkRefusal(error)) throw new CacheLinkError(path);
    throw error;
  }
}

export async function readFileNoFollow(path: string): Promise<Buffer>;
export async function readFileNoFollow(path: string, encoding: 'utf8'): Promise<string>;
export async function readFileNoFollow(path: string, encoding?: 'utf8'): Promise<Buffer | string> {
  const handle = await openNoFollow(path);
  try {
    return encoding ? await handle.readFile(encoding) : await handle.readFile();
  } finally {
    await handle.close();
  }
}

/**
 * The call that writes downloaded bytes into a partial blob. Only tests replace it: on a machine
 * where they cannot mount a small filesystem, they make it fail the way a full disk does.
 */
export const blobWrites = {
  write: (handle: FileHandle, buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesWritten: number }> =>
    handle.write(buffer, offset, length, position),
};

/** Throws unless `path` is a directory itself (not a link to one). */
export async function assertRealDirectory(path: string): Promise<void> {
  const info = await lstat(path);
  if (info.isSymbolicLink()) throw new CacheLinkError(path);
  if (!info.isDirectory()) throw new OciError('CACHE_CORRUPT', `Refusing ${path}: the cache expected a directory there. Remove it and run the pull again.`);
}

/** fsyncs a directory so a rename or create inside it survives a power cut. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch (error) {
    // Some filesystems refuse fsync on directories; the rename is still atomic.
    if ((error as NodeJS.ErrnoException).code !== 'EINVAL' && (error as NodeJS.ErrnoException).code !== 'EISDIR') throw error;
  } finally {
    await handle.close();
  }
}

/**
 * Writes a file atomically: a temporary sibling, fsync, rename over the target, fsync the
 * directory. Readers see the old content or the new, never a mix. `durable: false` skips the
 * fsyncs (still atomic against a killed process, not against power loss).
 */
export async function writeFileAtomic(path: string, data: string | Buffer, mode = 0o644, options: { durable?: boolean } = {}): Promise<void> {
  const durable = options.durable ?? true;
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  // O_EXCL: never through a link someone left at the temporary name.
  const handle = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | noFollow, mode);
  try {
    await handle.writeFile(data);
    if (durable) await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(tmp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  if (durable) await fsyncDir(dirname(path));
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

export async function fileSize(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

export function isNoSpace(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}
