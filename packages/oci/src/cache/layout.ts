// Paths inside a host cache (DESIGN.md, "Cache on each node"), an OCI image layout
// (image-spec image-layout.md) that other tools can read:
//
//   <cache>/oci-layout            {"imageLayoutVersion":"1.0.0"}
//   <cache>/index.json            held manifests; ref name annotation = tag
//   <cache>/blobs/sha256/<hex>    verified content only, read-only
//   <cache>/ingest/<hex>/         partial downloads, resumable, never visible as blobs
//   <cache>/images/<hex>/         materialized images: payload hard-linked by file name + image.json
//   <cache>/locks/                cross-process locks (index.json updates, prune)
//   <cache>/leases/               what running pulls need, so prune leaves it alone
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDigest, type Digest } from '../digest.ts';
import { MediaType } from '../media-types.ts';
import type { ImageIndex } from '../manifest.ts';
import { OciError } from '../errors.ts';
import { assertRealDirectory, exists, readFileNoFollow, writeFileAtomic } from './fsutil.ts';

export const layoutVersion = '1.0.0';

export class CacheLayout {
  constructor(readonly root: string) {}

  get ociLayoutFile(): string {
    return join(this.root, 'oci-layout');
  }
  get indexFile(): string {
    return join(this.root, 'index.json');
  }
  get blobsDir(): string {
    return join(this.root, 'blobs');
  }
  get ingestDir(): string {
    return join(this.root, 'ingest');
  }
  get imagesDir(): string {
    return join(this.root, 'images');
  }
  get locksDir(): string {
    return join(this.root, 'locks');
  }
  get leasesDir(): string {
    return join(this.root, 'leases');
  }
  get quarantineDir(): string {
    return join(this.root, 'quarantine');
  }

  /** The layout's own directories (each must be a real directory, never a link). */
  get directories(): string[] {
    return [this.blobsDir, join(this.blobsDir, 'sha256'), this.ingestDir, this.imagesDir, this.locksDir, this.leasesDir];
  }

  /** blobs/<alg>/<hex>; the digest is validated first, so no path escapes the cache. */
  blobPath(digest: string): string {
    const { algorithm, hex } = parseDigest(digest);
    return join(this.blobsDir, algorithm, hex);
  }

  ingestPath(digest: string): string {
    const { algorithm, hex } = parseDigest(digest);
    return join(this.ingestDir, algorithm === 'sha256' ? hex : `${algorithm}-${hex}`);
  }

  imagePath(manifestDigest: string): string {
    const { algorithm, hex } = parseDigest(manifestDigest);
    return join(this.imagesDir, algorithm === 'sha256' ? hex : `${algorithm}-${hex}`);
  }

  /** Creates the layout if missing; checks the version if present. */
  async init(): Promise<void> {
    for (const dir of this.directories) {
      await mkdir(dir, { recursive: true, mode: 0o755 });
      await assertRealDirectory(dir);
    }
    if (await exists(this.ociLayoutFile)) {
      let layout: { imageLayoutVersion?: unknown };
      try {
        layout = JSON.parse(await readFileNoFollow(this.ociLayoutFile, 'utf8')) as { imageLayoutVersion?: unknown };
      } catch (error) {
        if (!(error instanceof SyntaxError)) throw error;
        throw new OciError('CACHE_CORRUPT', `${this.ociLayoutFile} is not valid JSON: this is not a Cider cache, or it was damaged. Choose another cache directory, or remove this one.`, { cause: error });
      }
      if (layout.imageLayoutVersion !== layoutVersion) {
        throw new OciError('CACHE_CORRUPT', `${this.root} is an OCI layout of version ${String(layout.imageLayoutVersion)}; this cache needs ${layoutVersion}. Choose another cache directory, or remove this one.`);
      }
    } else {
      await writeFileAtomic(this.ociLayoutFile, JSON.stringify({ imageLayoutVersion: layoutVersion }));
    }
    if (!(await exists(this.indexFile))) {
      const empty: ImageIndex = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] };
      await writeFileAtomic(this.indexFile, JSON.stringify(empty));
    }
  }
}

export function hexOf(digest: Digest | string): string {
  return parseDigest(digest).hex;
}
