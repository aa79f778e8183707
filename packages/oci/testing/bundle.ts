// Test helpers for bundles: rewriting a bundle's tar entry by entry (to damage, drop or add
// entries the way a bad disk or a hostile sender would), and skopeo as a child process.
import { execFile } from 'node:child_process';
import { open, readFile, writeFile } from 'node:fs/promises';
import { indexTar, type TarIndexEntry } from '../src/bundle/tar-index.ts';
import { endOfArchive, entryHeader, padding } from '../src/bundle/tar.ts';

export type EntryEdit = { drop: true } | { data: Buffer; size?: number } | undefined;

/**
 * Copies the tar at `from` to `to`, entry by entry through `edit`: undefined keeps an entry,
 * `drop` leaves it out, `data` replaces its bytes (`size` may state another size in its header,
 * for a header that lies). `extra` entries are added at the end. Test bundles are small: read whole.
 */
export async function rewriteTar(from: string, to: string, edit: (entry: TarIndexEntry, data: Buffer) => EntryEdit, extra: { name: string; data: Buffer }[] = []): Promise<void> {
  const bytes = await readFile(from);
  const handle = await open(from, 'r');
  const entries = await indexTar(handle, bytes.length, from).finally(() => handle.close());
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const data = bytes.subarray(entry.offset, entry.offset + entry.size);
    const change = edit(entry, data);
    if (change && 'drop' in change) continue;
    const out = change?.data ?? data;
    const name = entry.type === 'directory' ? `${entry.name}/` : entry.name;
    parts.push(entryHeader({ name, size: change?.size ?? out.length, type: entry.type === 'directory' ? 'directory' : 'file' }));
    if (entry.type !== 'directory') parts.push(out, padding(out.length));
  }
  for (const entry of extra) parts.push(entryHeader({ name: entry.name, size: entry.data.length, type: 'file' }), entry.data, padding(entry.data.length));
  parts.push(endOfArchive);
  await writeFile(to, Buffer.concat(parts));
}

/** Runs skopeo; resolves with its output, rejects with its stderr. */
export function skopeo(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('skopeo', args, { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`skopeo ${args.join(' ')} failed: ${stderr || error.message}`));
      else resolve(stdout);
    });
  });
}
