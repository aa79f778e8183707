import { describe, expect, it } from 'vitest';
import { emptyConfig } from '../src/manifest.ts';
import { schemaErrors } from './schemas.ts';

describe('OCI schema validation', () => {
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: emptyConfig.descriptor,
    layers: [emptyConfig.descriptor],
  };

  it('accepts a valid manifest', () => {
    expect(schemaErrors('manifest', manifest)).toEqual([]);
  });

  it('rejects invalid documents, naming the problem', () => {
    expect(schemaErrors('manifest', { ...manifest, schemaVersion: 1 }).join()).toMatch(/schemaVersion/);
    expect(schemaErrors('manifest', { ...manifest, config: { ...emptyConfig.descriptor, digest: 'nope' } }).join()).toMatch(/digest/);
    expect(schemaErrors('index', { schemaVersion: 2, manifests: [{ mediaType: 'x', size: 1 }] }).length).toBeGreaterThan(0);
    expect(schemaErrors('layout', { imageLayoutVersion: '2.0.0' }).length).toBeGreaterThan(0);
  });
});
