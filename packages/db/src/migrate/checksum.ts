import { createHash } from 'node:crypto';

/**
 * The checksum `prisma migrate` records for a migration script: sha256 of the script's bytes,
 * as 64 lowercase hex digits (schema-engine's `render_checksum`).
 */
export function migrationChecksum(script: string | Buffer): string {
  return createHash('sha256').update(script).digest('hex');
}

/**
 * Whether a recorded checksum belongs to this script. Like Prisma, line endings don't count
 * (git may convert them), and the un-padded hex of old engines is accepted.
 */
export function scriptMatchesChecksum(script: string, checksum: string): boolean {
  const variants = [script, script.replaceAll('\r\n', '\n'), script.replaceAll('\n', '\r\n')];
  return variants.some((variant) => {
    const digest = createHash('sha256').update(variant).digest();
    const rendered = checksum.length === 64 ? digest.toString('hex') : [...digest].map((b) => b.toString(16)).join('');
    return rendered === checksum;
  });
}
