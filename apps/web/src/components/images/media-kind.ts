// Media types in words, with the raw type kept for the title attribute.
const kinds: Record<string, string> = {
  'application/vnd.oci.image.manifest.v1+json': 'OCI manifest',
  'application/vnd.oci.image.index.v1+json': 'OCI index',
  'application/vnd.docker.distribution.manifest.v2+json': 'Docker manifest',
  'application/vnd.docker.distribution.manifest.list.v2+json': 'Docker manifest list',
  'application/vnd.cider.image.v1': 'Cider image',
  'application/vnd.cider.image.config.v1+json': 'Cider image config',
  'application/vnd.cider.ipsw': 'macOS restore image (IPSW)',
  'application/vnd.oci.empty.v1+json': 'empty',
  'application/vnd.oci.image.config.v1+json': 'OCI image config',
};

export function mediaKind(mediaType: string): string {
  return kinds[mediaType] ?? mediaType;
}
