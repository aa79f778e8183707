import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

/** Writes `size` random bytes to `path`, streamed in 1 MiB pieces. */
export async function writeRandomFile(path: string, size: number): Promise<void> {
  const out = createWriteStream(path);
  let left = size;
  while (left > 0) {
    const piece = randomBytes(Math.min(left, 1 << 20));
    left -= piece.length;
    if (!out.write(piece)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}
