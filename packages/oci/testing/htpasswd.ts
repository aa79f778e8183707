// An htpasswd file for distribution's `auth: htpasswd` (registry/auth/htpasswd), which accepts
// bcrypt hashes only: one `user:$2b$...` line per user.
import { writeFile } from 'node:fs/promises';
import bcrypt from 'bcryptjs';

/**
 * Writes `users` (name -> password) to `path` as bcrypt htpasswd lines. The registry checks
 * the hash on every request, so tests use a low cost (4 is bcrypt's minimum) to stay fast.
 */
export async function writeHtpasswd(path: string, users: Record<string, string>, cost = 4): Promise<void> {
  const lines = await Promise.all(Object.entries(users).map(async ([user, password]) => `${user}:${await bcrypt.hash(password, cost)}`));
  await writeFile(path, `${lines.join('\n')}\n`, { mode: 0o600 });
}
