// Who may write into a cache. An agent running as root writes, links and renames files there;
// if another user could create entries in the cache (own it, or write to it through group or
// other bits), they could plant links or swap files under it and turn those root writes against
// the host. So the cache directory and the layout's own directories must belong to us (or to
// root, which everyone trusts) and be writable by no one else.
import { lstat, stat } from 'node:fs/promises';
import { OciError } from '../errors.ts';

export interface CacheOwnerRule {
  /** Our uid (process.getuid()); undefined where there are no uids (Windows): nothing to check. */
  uid: number | undefined;
}

export function currentOwnerRule(): CacheOwnerRule {
  return { uid: typeof process.getuid === 'function' ? process.getuid() : undefined };
}

export class UnsafeCacheDirectoryError extends OciError {
  override name = 'UnsafeCacheDirectoryError';
  constructor(
    readonly path: string,
    readonly reason: string,
    readonly fix: string,
  ) {
    super('CACHE_CORRUPT', `Refusing the cache directory ${path}: ${reason}. Fix it with: ${fix} (or choose another --cache directory).`);
  }
}

function octal(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
}

/**
 * Throws UnsafeCacheDirectoryError unless `path` may hold a cache for us. As root: owned by root,
 * not writable by group or others. As another user: owned by that user (or root), not writable
 * by others. `followLink`: the cache root itself may be a link to where the space is (its
 * target is checked); the layout's directories inside may not.
 */
export async function assertSafeCacheDirectory(path: string, rule: CacheOwnerRule = currentOwnerRule(), followLink = true): Promise<void> {
  const { uid } = rule;
  if (uid === undefined) return;
  const linkInfo = await lstat(path);
  if (linkInfo.isSymbolicLink() && !followLink) {
    throw new UnsafeCacheDirectoryError(path, 'it is a symbolic link inside the cache', `rm ${path}`);
  }
  const info = linkInfo.isSymbolicLink() ? await stat(path) : linkInfo;
  if (!info.isDirectory()) throw new UnsafeCacheDirectoryError(path, 'it is not a directory', `rm ${path}`);
  const asRoot = uid === 0;
  const owner = asRoot ? 'root' : `uid ${uid}`;
  if (info.uid !== uid && info.uid !== 0) {
    throw new UnsafeCacheDirectoryError(
      path,
      `it is owned by uid ${info.uid}, not by ${owner} that runs this process, so that user could plant files the cache would write through`,
      `${asRoot ? 'sudo ' : ''}chown -R ${asRoot ? 'root' : uid} ${path}`,
    );
  }
  const writableByOthers = asRoot ? info.mode & 0o022 : info.mode & 0o002;
  if (writableByOthers) {
    const who = asRoot ? 'group or others' : 'everyone';
    throw new UnsafeCacheDirectoryError(path, `it is writable by ${who} (mode ${octal(info.mode)})`, `${asRoot ? 'sudo ' : ''}chmod ${asRoot ? 'go-w' : 'o-w'} ${path}`);
  }
}
