// A 4 GiB bundle through the CLI as it ships: export, verify and import each stay at or under
// 150 MB peak RSS (memory does not grow with the bundle: compare the 1 GiB run in bundle.test.ts),
// and the image arrives in the second registry with the same digest. Its own file: it writes about
// 12 GiB (two registries and the tar; checked before it starts) and takes a minute or two.
import { describe, expect, it } from 'vitest';
import { bundleRoundTrip, describeFigures } from './testing/bundle-roundtrip.ts';

describe('cider bundle at 4 GiB (real processes, two real registries)', () => {
  it(
    'exports, verifies and imports 4 GiB with peak RSS at most 150 MB each, digests identical',
    async () => {
      const figures = await bundleRoundTrip({ bytes: 4 * 1024 ** 3, skopeo: false });
      console.log(describeFigures(figures));
      expect(figures.tarBytes).toBeGreaterThan(4 * 1024 ** 3);
      expect(figures.importedDigest).toBe(figures.sourceDigest);
      for (const run of [figures.export, figures.verify, figures.import]) expect(run.peakRssMB).toBeLessThanOrEqual(150);
    },
    600_000,
  );
});
