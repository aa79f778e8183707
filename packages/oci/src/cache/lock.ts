// Cross-process locks on one host: a lock is a file created with O_EXCL holding the owner's pid
// and host. A lock whose owner process is gone (killed mid-pull) is stale and taken over, so a
// SIGKILL never wedges the cache.
import { hostname } from 'node:os';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { sleep } from '../http/backoff.ts';
import { OciError } from '../errors.ts';

interface LockOwner {
  pid: number;
  host: string;
  since: string;
  purpose: string;
}

export interface Lock {
  readonly path: string;
  release(): Promise<void>;
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readOwner(path: string): Promise<LockOwner | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as LockOwner;
  } catch {
    return undefined;
  }
}

/** Whether the lock file names a live process on this host (an unreadable lock counts as live briefly). */
export async function lockHeld(path: string): Promise<boolean> {
  const owner = await readOwner(path);
  if (!owner) return false;
  return owner.host !== hostname() || processAlive(owner.pid);
}

/** Tries once to take the lock; undefined if another live process holds it. */
export async function tryLock(path: string, purpose: string): Promise<Lock | undefined> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(path, 'wx', 0o644);
      const owner: LockOwner = { pid: process.pid, host: hostname(), since: new Date().toISOString(), purpose };
      await handle.writeFile(JSON.stringify(owner));
      await handle.close();
      let released = false;
      return {
        path,
        async release() {
          if (released) return;
          released = true;
          await rm(path, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        // The folder went away with the previous holder (a finished download): make it again.
        await mkdir(dirname(path), { recursive: true });
        continue;
      }
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = await readOwner(path);
      if (owner === undefined) {
        // Created but not yet written by its owner, or left empty by a crash: give a writer a moment.
        await sleep(50);
        if ((await readOwner(path)) === undefined) await rm(path, { force: true });
        continue;
      }
      if (owner.host === hostname() && !processAlive(owner.pid)) {
        await rm(path, { force: true });
        continue;
      }
      return undefined;
    }
  }
  return undefined;
}

/** Waits for the lock, polling; `onWait` is told once who holds it. */
export async function acquireLock(
  path: string,
  purpose: string,
  options: { signal?: AbortSignal; timeoutMs?: number; onWait?: (holder: string) => void } = {},
): Promise<Lock> {
  const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
  let told = false;
  for (;;) {
    const lock = await tryLock(path, purpose);
    if (lock) return lock;
    if (!told && options.onWait) {
      const owner = await readOwner(path);
      options.onWait(owner ? `pid ${owner.pid} (${owner.purpose})` : 'another process');
      told = true;
    }
    if (Date.now() > deadline) throw new OciError('BUSY', `Timed out waiting for ${path}, held by another process`);
    await sleep(100 + Math.random() * 100, options.signal);
  }
}
