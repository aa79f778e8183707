// Small real filesystems for tests that need a disk to fill up or to clone on: a tmpfs of a
// few MiB (Linux, root), and an XFS image with reflinks on a loop device (root, mkfs.xfs). Where
// a test cannot have one (not root, no mount in this sandbox, no mkfs.xfs), it gets a plain
// folder and `kind: 'unavailable'` with the reason, and says which it used.
import { execFile } from 'node:child_process';
import { mkdir, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface SmallDisk {
  readonly dir: string;
  readonly kind: 'tmpfs' | 'xfs-reflink' | 'unavailable';
  /** Why no filesystem could be mounted (kind 'unavailable'). */
  readonly reason?: string;
  /** Unmounts (and removes the image file of a loop mount). */
  close(): Promise<void>;
}

function reasonOf(error: unknown): string {
  const e = error as { stderr?: string; message?: string };
  return (e.stderr || e.message || String(error)).trim().split('\n')[0]!;
}

async function unmount(dir: string): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      await run('umount', [dir]);
      return;
    } catch (error) {
      // A worker thread may still be closing a file on it: wait a moment, then detach lazily.
      if (attempt === 19) await run('umount', ['-l', dir]).catch(() => {});
      else if (!/busy/i.test(reasonOf(error))) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** A tmpfs of `bytes` at `<parent>/<name>`. */
export async function mountTmpfs(parent: string, name: string, bytes: number): Promise<SmallDisk> {
  const dir = join(parent, name);
  await mkdir(dir, { recursive: true });
  try {
    if (process.platform !== 'linux') throw new Error(`tmpfs needs Linux (this is ${process.platform})`);
    // Runs the fallback on purpose (to check that it still works where mounting can).
    if (process.env.CIDER_TEST_NO_MOUNT) throw new Error('CIDER_TEST_NO_MOUNT is set');
    await run('mount', ['-t', 'tmpfs', '-o', `size=${Math.ceil(bytes / 1024)}k,mode=0755`, 'tmpfs', dir]);
  } catch (error) {
    return { dir, kind: 'unavailable', reason: reasonOf(error), close: async () => {} };
  }
  return { dir, kind: 'tmpfs', close: () => unmount(dir) };
}

/** An XFS filesystem with reflinks (copy-on-write clones) on a loop device at `<parent>/<name>`. */
export async function mountReflinkDisk(parent: string, name: string): Promise<SmallDisk> {
  const dir = join(parent, name);
  // XFS wants at least 300 MiB; the image is sparse, so it costs a few MiB of real disk.
  const image = join(parent, `${name}.img`);
  await mkdir(dir, { recursive: true });
  try {
    if (process.platform !== 'linux') throw new Error(`loop devices need Linux (this is ${process.platform})`);
    await writeFile(image, '');
    await truncate(image, 320 * 1024 * 1024);
    await run('mkfs.xfs', ['-q', '-f', '-m', 'reflink=1', image]);
    await run('mount', ['-o', 'loop', image, dir]);
  } catch (error) {
    await rm(image, { force: true });
    return { dir, kind: 'unavailable', reason: reasonOf(error), close: async () => {} };
  }
  return {
    dir,
    kind: 'xfs-reflink',
    close: async () => {
      await unmount(dir);
      await rm(image, { force: true });
    },
  };
}
