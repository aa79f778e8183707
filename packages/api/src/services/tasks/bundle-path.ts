// Where an admin may have the server write a bundle: an absolute path inside CIDER_BUNDLE_DIR,
// in a directory that exists, to a file that does not. Checked when the task is created and again
// when it runs (the export itself opens with O_EXCL, so a file that appears meanwhile is never
// overwritten). A symlink anywhere on the way that leads outside the directory is refused.
import { lstat, realpath } from 'node:fs/promises';
import { basename, dirname, isAbsolute, normalize, relative, sep } from 'node:path';
import { AppError } from '../../errors.ts';

const maxPathLength = 4096;

function inside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

/** The checked path (normalised), or an AppError that says what is wrong and what is allowed. */
export async function checkBundlePath(bundleDir: string | undefined, requested: string): Promise<string> {
  if (!bundleDir) throw new AppError('BAD_REQUEST', 'Writing bundles on the server is off: set CIDER_BUNDLE_DIR (an absolute directory) for the web and control processes to enable it.');
  const path = requested.trim();
  if (path.length === 0 || path.length > maxPathLength || path.includes('\0')) throw new AppError('BAD_REQUEST', 'Name the file to write, e.g. ' + `${bundleDir}${sep}site.tar.`);
  if (!isAbsolute(path)) throw new AppError('BAD_REQUEST', `The path must be absolute and inside ${bundleDir}, e.g. ${bundleDir}${sep}site.tar.`);
  if (path.split(/[\\/]/).includes('..')) throw new AppError('BAD_REQUEST', 'The path must not contain "..".');
  const wanted = normalize(path);
  if (!wanted.endsWith('.tar')) throw new AppError('BAD_REQUEST', 'A bundle is a tar file: end the name with .tar.');
  const dir = await realpath(bundleDir).catch(() => {
    throw new AppError('BAD_REQUEST', `CIDER_BUNDLE_DIR (${bundleDir}) does not exist on the server; create it or change the setting.`);
  });
  if (!inside(normalize(bundleDir), wanted) && !inside(dir, wanted)) throw new AppError('BAD_REQUEST', `The path must be inside ${bundleDir}.`);
  // The directory it goes in, with every symlink resolved, must still be inside.
  const parent = await realpath(dirname(wanted)).catch(() => {
    throw new AppError('BAD_REQUEST', `The directory ${dirname(wanted)} does not exist on the server; create it first.`);
  });
  if (parent !== dir && !inside(dir, parent)) throw new AppError('BAD_REQUEST', `The path leads outside ${bundleDir} (through a symbolic link).`);
  const target = `${parent}${sep}${basename(wanted)}`;
  for (const candidate of [target, `${target}.partial`]) {
    const existing = await lstat(candidate).catch(() => undefined);
    if (existing) throw new AppError('CONFLICT', `${candidate === target ? wanted : `${wanted}.partial`} already exists; bundles never overwrite a file. Choose another name or remove it.`);
  }
  return target;
}
