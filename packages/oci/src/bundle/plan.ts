// planBundle: what a bundle of some images will hold, read from their registries before a byte of
// the bundle is written. Each reference is resolved to its manifest; an index brings every child
// manifest (all platforms: an air-gapped site may serve any of them); each manifest its config and
// layers; and each image its referrers (SBOMs, signatures), found through the referrers API or the
// referrers tag where the registry has none (../registry/referrers.ts), with their own referrers.
// Every manifest is read by digest and checked against it; blobs are only listed here, and
// writeBundle checks each as it copies it.
import { parseDigest, type Digest } from '../digest.ts';
import { OciError } from '../errors.ts';
import { isIndex, type Descriptor } from '../manifest.ts';
import { formatReference, parseReference, referenceTarget } from '../reference.ts';
import type { Repository } from '../registry/repository.ts';
import type { FetchedManifest } from '../source.ts';
import { layoutEntries, layoutIndex, layoutTarBytes } from './layout.ts';
import type { BundleBlob, BundleImage, BundlePlan, PlanBundleOptions } from './types.ts';

/** Manifests in one bundle, at most (each is read while planning). */
const maxManifests = 10_000;
/** Blobs in one bundle, at most. */
const maxBlobs = 100_000;
/** Indexes nested in indexes, at most. */
const maxDepth = 8;
/** Referrers of referrers (a signature of an SBOM), at most this many levels. */
const maxReferrerDepth = 4;

class Planner {
  readonly manifests: BundleBlob[] = [];
  readonly configs: BundleBlob[] = [];
  readonly layers: BundleBlob[] = [];
  private readonly seen = new Set<Digest>();
  /** The manifests each manifest reaches (itself and, for an index, its children's), for their referrers. */
  private readonly reached = new Map<Digest, Digest[]>();

  constructor(private readonly signal: AbortSignal | undefined) {}

  private add(list: BundleBlob[], repo: Repository, descriptor: Pick<Descriptor, 'digest' | 'size' | 'mediaType'>, kind: BundleBlob['kind']): boolean {
    if (this.seen.has(descriptor.digest)) return false;
    if (this.seen.size >= maxBlobs) throw new OciError('INVALID_IMAGE', `A bundle holds at most ${maxBlobs} blobs; these images have more. Export them in several bundles.`);
    parseDigest(descriptor.digest);
    this.seen.add(descriptor.digest);
    list.push({ digest: descriptor.digest, size: descriptor.size, mediaType: descriptor.mediaType, kind, registry: repo.registry, repository: repo.name });
    return true;
  }

  /** Adds a manifest and everything it names; returns the manifests it reaches. */
  async addManifest(repo: Repository, fetched: FetchedManifest, depth = 0): Promise<Digest[]> {
    const digest = fetched.descriptor.digest;
    const known = this.reached.get(digest);
    if (known) return known;
    if (this.manifests.length >= maxManifests) throw new OciError('INVALID_IMAGE', `A bundle holds at most ${maxManifests} manifests; these images have more.`);
    if (depth > maxDepth) throw new OciError('INVALID_MANIFEST', `${repo.name}@${digest} nests indexes more than ${maxDepth} deep`);
    this.signal?.throwIfAborted();
    this.add(this.manifests, repo, fetched.descriptor, 'manifest');
    const reached: Digest[] = [digest];
    this.reached.set(digest, reached);
    const manifest = fetched.manifest;
    if (isIndex(manifest)) {
      for (const child of manifest.manifests) {
        reached.push(...(await this.addManifest(repo, await repo.fetchManifest(child.digest), depth + 1)));
      }
    } else {
      this.add(this.configs, repo, manifest.config, 'config');
      for (const layer of manifest.layers) this.add(this.layers, repo, layer, 'layer');
    }
    return reached;
  }

  /** The referrers of `subjects` (and theirs, a few levels down), each added with what it names. */
  async addReferrers(repo: Repository, subjects: Digest[], depth = 0, found = new Map<Digest, Descriptor>()): Promise<Descriptor[]> {
    for (const subject of subjects) {
      for (const listed of await repo.listReferrers(subject, { signal: this.signal })) {
        if (found.has(listed.digest)) continue;
        const fetched = await repo.fetchManifest(listed.digest);
        // The bundle states what the content says (its digest was checked), not what the list claimed.
        const descriptor: Descriptor = { ...listed, mediaType: fetched.descriptor.mediaType, size: fetched.descriptor.size };
        found.set(listed.digest, descriptor);
        const reached = await this.addManifest(repo, fetched);
        if (depth + 1 < maxReferrerDepth) await this.addReferrers(repo, reached, depth + 1, found);
      }
    }
    return [...found.values()];
  }
}

/** `<repository>:<tag>`, or `<repository>@<encoded digest>` for an image asked for by digest alone. */
function refNameOf(repository: string, tag: string | undefined, digest: Digest): string {
  return tag ? `${repository}:${tag}` : `${repository}@${parseDigest(digest).hex}`;
}

export async function planBundle(options: PlanBundleOptions): Promise<BundlePlan> {
  if (options.references.length === 0) throw new OciError('INVALID_REFERENCE', 'Name at least one image to put in the bundle (registry/repository:tag or @digest).');
  const planner = new Planner(options.signal);
  const images: BundleImage[] = [];
  const byRefName = new Map<string, BundleImage>();
  for (const input of options.references) {
    const ref = parseReference(input);
    const repo = options.client.repositoryOf(ref);
    const fetched = await repo.fetchManifest(referenceTarget(ref));
    const digest = fetched.descriptor.digest;
    const refName = refNameOf(ref.repository, ref.tag, digest);
    const earlier = byRefName.get(refName);
    if (earlier) {
      if (earlier.digest === digest) continue;
      throw new OciError('INVALID_REFERENCE', `${input} and ${earlier.reference} would both be named ${refName} in the bundle but are different images (${digest}, ${earlier.digest}). Export them in separate bundles.`);
    }
    const reached = await planner.addManifest(repo, fetched);
    const referrers = options.referrers === false ? [] : await planner.addReferrers(repo, reached);
    const image: BundleImage = { reference: formatReference(ref), repository: ref.repository, digest, refName, referrers };
    if (ref.tag) image.tag = ref.tag;
    byRefName.set(refName, image);
    images.push(image);
  }
  const blobs = [...planner.manifests, ...planner.configs, ...planner.layers];
  const entries = layoutEntries({ images, blobs }, layoutIndex({ images, blobs }));
  return {
    images,
    blobs,
    tarBytes: layoutTarBytes(entries),
    contentBytes: blobs.reduce((sum, blob) => sum + blob.size, 0),
  };
}
