// Which blobs make up an image, by the image's digest: a peer ticket names an image (the manifest
// or index digest the job syncs), and the peer server admits each blob of it. Pulls in progress
// tell it as soon as they have the manifest; images already in the cache are read from their
// manifests on first use. Bounded: the most recent few hundred images are remembered.
import { isIndex, parseManifest, type Digest, type HostCache } from '@cider/oci';

const maxImages = 256;
/** Children of an index looked at, at most (one per platform). */
const maxChildren = 16;

export class ImageBlobs {
  private readonly known = new Map<string, ReadonlySet<string>>();

  constructor(private readonly cache: () => HostCache | undefined) {}

  /** A pull found the image's manifest (`top` is the index when the image is multi-platform). */
  note(manifest: { digest: string; top: string; blobs: string[] }): void {
    const blobs = new Set(manifest.blobs);
    this.remember(manifest.digest, blobs);
    if (manifest.top !== manifest.digest) this.remember(manifest.top, new Set([...(this.known.get(manifest.top) ?? []), ...blobs]));
  }

  async lookup(image: string): Promise<ReadonlySet<string> | undefined> {
    const hit = this.known.get(image);
    if (hit) return hit;
    const cache = this.cache();
    if (!cache || !/^sha256:[0-9a-f]{64}$/.test(image) || !(await cache.hasBlob(image))) return undefined;
    try {
      const blobs = new Set<string>();
      const manifest = parseManifest(await cache.readBlob(image as Digest));
      const manifests = isIndex(manifest) ? manifest.manifests.slice(0, maxChildren).map((m) => m.digest) : [image];
      for (const digest of manifests) {
        if (!(await cache.hasBlob(digest))) continue;
        const child = digest === image ? manifest : parseManifest(await cache.readBlob(digest as Digest));
        if (isIndex(child)) continue;
        blobs.add(child.config.digest);
        for (const layer of child.layers) blobs.add(layer.digest);
      }
      this.remember(image, blobs);
      return blobs;
    } catch {
      return undefined;
    }
  }

  private remember(image: string, blobs: ReadonlySet<string>): void {
    this.known.delete(image);
    this.known.set(image, blobs);
    while (this.known.size > maxImages) this.known.delete(this.known.keys().next().value!);
  }
}
