// The session cookie: httpOnly (scripts can't read it), SameSite=Lax, Secure when served over HTTPS.
export const sessionCookieName = 'cider_session';

export function serializeSessionCookie(token: string | null, options: { expiresAt?: Date; secure: boolean }): string {
  const parts = [`${sessionCookieName}=${token ?? ''}`, 'Path=/', 'HttpOnly', 'SameSite=Lax'];
  if (options.secure) parts.push('Secure');
  if (token === null) parts.push('Max-Age=0');
  else if (options.expiresAt) parts.push(`Expires=${options.expiresAt.toUTCString()}`);
  return parts.join('; ');
}

export function readCookie(header: string | null | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    // A mangled cookie is no session, not a server error.
    try {
      return decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      return undefined;
    }
  }
  return undefined;
}
