// The real ServerTaskRunners: @cider/oci's Apple catalog, URL source, pushIpsw and bundle writer.
// Nothing here stages bytes: the IPSW streams from its URL into the registry upload (urlSource
// resumes by Range after drops), and bundles stream from the registry into a tar. The server
// reads URLs a catalog named, not ones it chose: link-local and cloud-metadata addresses are
// refused from the first request on, not only after a redirect.
import { exportBundle, fetchAppleCatalog, planBundle, pushIpsw, restoreImageSize, urlSource, writeBundle } from '@cider/oci';
import type { ServerTaskRunners } from './runners.ts';

export function ociTaskRunners(): ServerTaskRunners {
  return {
    fetchAppleCatalog: (url, signal) => fetchAppleCatalog(url, { signal }),
    restoreImageSize: (url, signal) => restoreImageSize(url, { signal, guardAddresses: true }),
    async publishFromApple(input) {
      const source = await urlSource(input.image.url, { signal: input.signal, guardAddresses: true });
      try {
        input.onProgress({ bytesDone: 0, bytesTotal: source.size, message: 'Reading the IPSW' });
        const result = await pushIpsw({
          client: input.client,
          repository: input.repository,
          source,
          tags: input.tags,
          immutableTags: input.immutableTags,
          ...(input.image.sha1 ? { expect: { sha1: input.image.sha1 } } : {}),
          signal: input.signal,
          onProgress: (p) => input.onProgress({ bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, message: 'Uploading' }),
        });
        return { digest: result.digest, references: result.references, size: result.size };
      } finally {
        await source.close();
      }
    },
    planBundle: (input) => planBundle({ client: input.client, references: input.references, signal: input.signal }),
    writeBundle: (plan, input) => writeBundle(plan, { client: input.client, output: input.output, signal: input.signal, ...(input.onProgress ? { onProgress: input.onProgress } : {}) }),
    exportBundle: (input) => exportBundle({ client: input.client, references: input.references, path: input.path, signal: input.signal, onProgress: input.onProgress }),
  };
}
