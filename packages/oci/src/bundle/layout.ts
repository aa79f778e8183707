// What a bundle's tar holds, derived from its plan alone (image-spec image-layout.md): the same
// plan always gives the same entries and the same bytes, so planBundle can state the tar's exact
// size and writeBundle can prove it wrote exactly that.
import { parseDigest, type Digest } from '../digest.ts';
import type { Descriptor } from '../manifest.ts';
import { Annotation, MediaType } from '../media-types.ts';
import { entryBytes, type TarEntry } from './tar.ts';
import { bundleReferenceAnnotation, type BundleBlob, type BundleImage, type BundlePlan } from './types.ts';

export const ociLayoutBytes = Buffer.from('{"imageLayoutVersion":"1.0.0"}');

/** `blobs/<algorithm>/<encoded>` */
export function blobEntryName(digest: Digest): string {
  const { algorithm, hex } = parseDigest(digest);
  return `blobs/${algorithm}/${hex}`;
}

/**
 * index.json: one entry per image, named `<repository>:<tag>` (what skopeo's
 * `oci-archive:site.tar:<name>` looks up), then each referrer once, unnamed, as oras writes
 * untagged manifests: a reader finds what it refers to from its `subject`.
 */
export function layoutIndex(plan: Pick<BundlePlan, 'images' | 'blobs'>): Buffer {
  const blobs = new Map<Digest, BundleBlob>(plan.blobs.map((blob) => [blob.digest, blob]));
  const describe = (digest: Digest, extra: Partial<Descriptor>): Descriptor => {
    const blob = blobs.get(digest);
    // A plan is made by planBundle; a hand-made one that names a manifest it does not carry is a bug.
    if (!blob) throw new RangeError(`bundle plan names ${digest} but does not carry it`);
    return { mediaType: blob.mediaType, digest, size: blob.size, ...extra };
  };
  const manifests: Descriptor[] = plan.images.map((image: BundleImage) =>
    describe(image.digest, { annotations: { [Annotation.refName]: image.refName, [bundleReferenceAnnotation]: image.reference } }),
  );
  const referrers = new Set<Digest>();
  for (const image of plan.images) {
    for (const referrer of image.referrers) {
      if (referrers.has(referrer.digest)) continue;
      referrers.add(referrer.digest);
      manifests.push(describe(referrer.digest, referrer.artifactType ? { artifactType: referrer.artifactType } : {}));
    }
  }
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests }));
}

/** Every entry of the tar, in order: oci-layout, index.json, the blob directories, the blobs. */
export function layoutEntries(plan: Pick<BundlePlan, 'images' | 'blobs'>, index = layoutIndex(plan)): TarEntry[] {
  const algorithms = [...new Set(plan.blobs.map((blob) => parseDigest(blob.digest).algorithm))];
  return [
    { name: 'oci-layout', size: ociLayoutBytes.length, type: 'file' },
    { name: 'index.json', size: index.length, type: 'file' },
    { name: 'blobs/', size: 0, type: 'directory' },
    ...algorithms.map((algorithm): TarEntry => ({ name: `blobs/${algorithm}/`, size: 0, type: 'directory' })),
    ...plan.blobs.map((blob): TarEntry => ({ name: blobEntryName(blob.digest), size: blob.size, type: 'file' })),
  ];
}

/** The exact size of the tar: every entry, then the two zero blocks that end it. */
export function layoutTarBytes(entries: TarEntry[]): number {
  return entries.reduce((sum, entry) => sum + entryBytes(entry), 0) + 1024;
}
