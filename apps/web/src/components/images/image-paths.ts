// Dashboard URLs for images. Repository names contain slashes, so a repository page is a
// catch-all route; `-` (which can never be a repository path component) separates the
// repository from what follows, as GitLab does: /images/<registry>/demo/macos/-/tags/15.2.

export function registryHref(registryId: string): string {
  return `/images/${registryId}`;
}

export function repositoryHref(registryId: string, repository: string): string {
  return `/images/${registryId}/${repository.split('/').map(encodeURIComponent).join('/')}`;
}

export function tagHref(registryId: string, repository: string, tag: string): string {
  return `${repositoryHref(registryId, repository)}/-/tags/${encodeURIComponent(tag)}`;
}

export function digestHref(registryId: string, repository: string, digest: string): string {
  return `${repositoryHref(registryId, repository)}/-/digests/${encodeURIComponent(digest)}`;
}

export type ImageRoute = { repository: string; reference?: undefined } | { repository: string; reference: string; byDigest: boolean };

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** The catch-all segments of /images/<registry>/...: a repository, maybe a tag or digest. */
export function parseImageRoute(segments: string[]): ImageRoute | undefined {
  const parts = segments.map(decode);
  const dash = parts.indexOf('-');
  if (dash === -1) return parts.length ? { repository: parts.join('/') } : undefined;
  const repository = parts.slice(0, dash).join('/');
  const [kind, reference, ...rest] = parts.slice(dash + 1);
  if (!repository || !reference || rest.length || (kind !== 'tags' && kind !== 'digests')) return undefined;
  return { repository, reference, byDigest: kind === 'digests' };
}
