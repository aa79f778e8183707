// Where each image of a bundle goes on import. The target is `<registry>[/prefix]`; an image's
// repository is the prefix followed by the repository its index.json ref name states:
//
//   ref name (org.opencontainers.image.ref.name)   target 127.0.0.1:5000/mirror
//   demo/macos:15.2      (cider bundle export)      127.0.0.1:5000/mirror/demo/macos:15.2
//   demo/macos@<hex>     (exported by digest)       127.0.0.1:5000/mirror/demo/macos@sha256:<hex>
//   15.2                 (a tag only, as skopeo     127.0.0.1:5000/mirror:15.2   (the prefix is
//                         writes oci-archive:x:15.2)                              the repository)
//   ghcr.io/a/b:1        (a full reference)         127.0.0.1:5000/mirror/a/b:1  (the host dropped)
//
// Entries without a ref name are referrers (a `subject`), pushed where their subject went, or
// untagged images placed by their io.ciderfleet.reference annotation.
import type { Digest } from '../digest.ts';
import { InvalidReferenceError, OciError } from '../errors.ts';
import { Annotation } from '../media-types.ts';
import { isValidTag, parseReference } from '../reference.ts';
import type { BundleArchive } from './archive.ts';
import { bundleReferenceAnnotation } from './types.ts';

export interface ImportTarget {
  registry: string;
  /** Repository path that every image's repository is put under; none when absent. */
  prefix?: string;
}

export interface Placement {
  refName: string;
  digest: Digest;
  repository: string;
  tag?: string;
}

export interface ReferrerPlacement {
  digest: Digest;
  subject: Digest;
  repository: string;
}

/** `<registry>[/prefix]`, checked the way references are. */
export function parseTarget(target: string): ImportTarget {
  const usage = 'give the registry as host[:port], optionally followed by a repository prefix: 127.0.0.1:5000 or registry.site.local/mirror';
  if (/^[a-z]+:\/\//i.test(target)) throw new InvalidReferenceError(target, `drop the scheme: ${usage}`);
  const slash = target.indexOf('/');
  const registry = slash < 0 ? target : target.slice(0, slash);
  const prefix = slash < 0 ? undefined : target.slice(slash + 1).replace(/\/+$/, '');
  let parsed;
  try {
    parsed = parseReference(`${registry}/${prefix || 'x'}`, { defaultTag: false });
  } catch (error) {
    throw new InvalidReferenceError(target, `${(error as Error).message.replace(/^Invalid reference "[^"]*": /, '')}; ${usage}`);
  }
  if (parsed.registry !== registry || parsed.tag || parsed.digest) throw new InvalidReferenceError(target, usage);
  return prefix ? { registry, prefix } : { registry };
}

/** The repository and tag a ref name states (see the table above); `tag` undefined for a digest name. */
export function placeRefName(refName: string, digest: Digest, target: ImportTarget): { repository: string; tag?: string } {
  const join = (repository: string) => (target.prefix ? `${target.prefix}/${repository}` : repository);
  let placed: { repository: string; tag?: string };
  if (!refName.includes('/') && !refName.includes(':') && !refName.includes('@')) {
    if (!isValidTag(refName)) throw new InvalidReferenceError(refName, 'the bundle names an image by this, which is neither a tag nor a repository:tag');
    if (!target.prefix) {
      throw new OciError(
        'INVALID_REFERENCE',
        `The bundle names an image only by the tag "${refName}" (skopeo writes oci-archive names so), without a repository. Give the repository after the registry: ${target.registry}/<repository> puts it at ${target.registry}/<repository>:${refName}. (With a prefix, an image named <repository>:<tag> goes to <registry>/<prefix>/<repository>:<tag>.)`,
      );
    }
    placed = { repository: target.prefix, tag: refName };
  } else {
    const at = refName.lastIndexOf('@');
    const byDigest = at > 0 && /^[a-f0-9]{64,128}$/.test(refName.slice(at + 1));
    let ref;
    try {
      ref = parseReference(byDigest ? refName.slice(0, at) : refName, { defaultTag: byDigest ? false : 'latest' });
    } catch (error) {
      throw new OciError('INVALID_REFERENCE', `The bundle names an image "${refName}", which is not <repository>:<tag>: ${(error as Error).message}`);
    }
    if (byDigest && !digest.endsWith(`:${refName.slice(at + 1)}`)) throw new OciError('INVALID_BUNDLE', `The bundle names ${refName} but its index.json entry is ${digest}.`);
    if (ref.digest && ref.digest !== digest) throw new OciError('INVALID_BUNDLE', `The bundle names ${refName} but its index.json entry is ${digest}.`);
    // A name without a host stays as written (parseReference would add docker.io's library/).
    const hostless = ref.registry === 'docker.io' && !refName.startsWith('docker.io/');
    const repository = hostless ? (byDigest ? refName.slice(0, at) : refName.replace(/:[^:/]*$/, '')) : ref.repository;
    placed = { repository: join(repository), ...(ref.tag && !byDigest ? { tag: ref.tag } : {}) };
  }
  try {
    parseReference(`${target.registry}/${placed.repository}${placed.tag ? `:${placed.tag}` : ''}`, { defaultTag: false });
  } catch (error) {
    throw new OciError('INVALID_REFERENCE', `The bundle's image "${refName}" would go to ${target.registry}/${placed.repository}, which is not a valid reference: ${(error as Error).message}`);
  }
  return placed;
}

/** Every image and referrer of the bundle with its repository; referrers ordered after their subjects. */
export function placeImages(archive: BundleArchive, target: ImportTarget): { images: Placement[]; referrers: ReferrerPlacement[] } {
  const images: Placement[] = [];
  const pending: { digest: Digest; subject: Digest }[] = [];
  /** The repositories each manifest goes to, to place referrers where their subjects are. */
  const where = new Map<Digest, Set<string>>();
  const placeAt = (root: Digest, repository: string) => {
    const stack = [root];
    while (stack.length > 0) {
      const digest = stack.pop()!;
      const node = archive.manifests.get(digest);
      const set = where.get(digest) ?? new Set<string>();
      if (!node || set.has(repository)) continue;
      set.add(repository);
      where.set(digest, set);
      stack.push(...node.children);
    }
  };
  for (const descriptor of archive.index?.manifests ?? []) {
    const node = archive.manifests.get(descriptor.digest)!;
    const refName = descriptor.annotations?.[Annotation.refName];
    if (refName !== undefined) {
      const placed = placeRefName(refName, descriptor.digest, target);
      const clash = placed.tag ? images.find((i) => i.repository === placed.repository && i.tag === placed.tag && i.digest !== descriptor.digest) : undefined;
      if (clash) throw new OciError('INVALID_BUNDLE', `The bundle names two different images ${clash.refName} (${clash.digest}) and ${refName} (${descriptor.digest}), which would both be ${target.registry}/${placed.repository}:${placed.tag}.`);
      images.push({ refName, digest: descriptor.digest, ...placed });
      placeAt(descriptor.digest, placed.repository);
    } else if (node.manifest.subject) {
      pending.push({ digest: descriptor.digest, subject: node.manifest.subject.digest });
    } else {
      const source = descriptor.annotations?.[bundleReferenceAnnotation];
      const named = source ? parseReference(source).repository : undefined;
      const repository = named ? (target.prefix ? `${target.prefix}/${named}` : named) : target.prefix;
      if (!repository) throw new OciError('INVALID_REFERENCE', `The bundle holds an image without a name (${descriptor.digest}): give a repository after the registry (${target.registry}/<repository>) to import it there.`);
      images.push({ refName: `${repository}@${descriptor.digest}`, digest: descriptor.digest, repository });
      placeAt(descriptor.digest, repository);
    }
  }
  // Referrers of referrers need their subject placed first: rounds until nothing moves.
  const referrers: ReferrerPlacement[] = [];
  while (pending.length > 0) {
    const ready = pending.filter((p) => where.has(p.subject));
    if (ready.length === 0) {
      if (!target.prefix) {
        const first = pending[0]!;
        throw new OciError('INVALID_REFERENCE', `The bundle holds a referrer (${first.digest}) of ${first.subject}, which it does not carry: give a repository after the registry (${target.registry}/<repository>) to import it there.`);
      }
      for (const p of pending.splice(0)) {
        referrers.push({ ...p, repository: target.prefix });
        placeAt(p.digest, target.prefix);
      }
      break;
    }
    for (const p of ready) {
      pending.splice(pending.indexOf(p), 1);
      for (const repository of where.get(p.subject)!) {
        referrers.push({ ...p, repository });
        placeAt(p.digest, repository);
      }
    }
  }
  return { images, referrers };
}
