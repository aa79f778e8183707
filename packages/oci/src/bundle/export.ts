// exportBundle: a bundle written to a file. The tar goes to `<path>.partial` (created exclusively:
// two exports never share it), and only a complete, checked tar takes the final name, so a file
// named site.tar is always a whole bundle. The final name is taken with link + unlink, which,
// unlike rename, refuses to replace a file that appeared meanwhile: an export never overwrites.
// (On filesystems without hard links, FAT and exFAT sticks among them, it checks, then renames.)
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { link, rename, stat, statfs, unlink } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { formatBytes, localFailure, OciError } from '../errors.ts';
import { planBundle } from './plan.ts';
import type { BundlePlan, ExportBundleOptions } from './types.ts';
import { writeBundle } from './write.ts';

/** Free space kept beyond the bundle, so the machine keeps working. */
const headroomBytes = 64 * 1024 * 1024;

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

function refuseExisting(path: string): OciError {
  return new OciError('INVALID_IMAGE', `${path} already exists: a bundle never overwrites a file. Choose another name or remove it first.`);
}

async function ensureRoom(path: string, bytes: number): Promise<void> {
  const stats = await statfs(dirname(path));
  const free = stats.bavail * stats.bsize;
  if (free < bytes + headroomBytes) {
    throw new OciError('INSUFFICIENT_SPACE', `The bundle needs ${formatBytes(bytes)} (plus ${formatBytes(headroomBytes)} to spare) under ${dirname(path)} but only ${formatBytes(free)} is free. Write it to another disk (-o) or free some space.`);
  }
}

/** Gives the finished `.partial` its final name without ever replacing a file. */
async function publish(partial: string, path: string): Promise<void> {
  try {
    await link(partial, path);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'EEXIST') throw new OciError('INVALID_IMAGE', `${path} appeared while the bundle was written; the complete bundle is kept as ${partial}.`);
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EXDEV') throw localFailure(error, `Naming the bundle ${path}`);
    if (await exists(path)) throw refuseExisting(path);
    await rename(partial, path);
    return;
  }
  await unlink(partial);
}

export async function exportBundle(options: ExportBundleOptions): Promise<BundlePlan> {
  const path = resolve(options.path);
  const partial = `${path}.partial`;
  if (await exists(path)) throw refuseExisting(path);
  const plan = await planBundle(options);
  await ensureRoom(path, plan.tarBytes);
  // O_EXCL ('wx'): this export owns the .partial; `flush` fsyncs it before it is closed.
  const output = createWriteStream(partial, { flags: 'wx', mode: 0o644, flush: true, highWaterMark: 1024 * 1024 });
  try {
    await once(output, 'ready');
  } catch (error) {
    if ((error as { code?: string }).code === 'EEXIST') {
      throw new OciError('BUSY', `${partial} exists: another export to ${path} is running, or one was interrupted. Remove ${partial} if none is running, then retry.`);
    }
    throw localFailure(error, `Creating ${partial}`);
  }
  try {
    await writeBundle(plan, { client: options.client, output, onProgress: options.onProgress, signal: options.signal });
    const closed = once(output, 'close');
    output.end();
    await closed;
  } catch (error) {
    // Writes still queued fail once the stream is destroyed; the error that matters is `error`.
    output.on('error', () => {});
    output.destroy();
    await unlink(partial).catch(() => {});
    throw localFailure(error, `Writing ${partial}`);
  }
  await publish(partial, path);
  return plan;
}
