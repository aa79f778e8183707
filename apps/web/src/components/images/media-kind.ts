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
  // Payload kinds of other OS images (IronCore's media types).
  'application/vnd.ironcore.image.disk.img': 'disk image',
  'application/vnd.ironcore.image.kernel': 'kernel',
  'application/vnd.ironcore.image.initramfs': 'initramfs',
  'application/vnd.ironcore.image.squashfs': 'squashfs',
  'application/vnd.ironcore.image.rootfs': 'root file system',
  'application/vnd.ironcore.image.cmdline': 'kernel command line',
  'application/vnd.ironcore.image.uki': 'unified kernel image',
  'application/vnd.ironcore.image.iso': 'ISO image',
  // What usually refers to an image: signatures, SBOMs, attestations.
  'application/vnd.dev.cosign.artifact.sig.v1+json': 'cosign signature',
  'application/vnd.dev.sigstore.bundle.v0.3+json': 'Sigstore bundle',
  'application/vnd.dev.sigstore.bundle+json;version=0.3': 'Sigstore bundle',
  'application/vnd.cncf.notary.signature': 'Notary signature',
  'application/spdx+json': 'SPDX SBOM',
  'application/vnd.cyclonedx+json': 'CycloneDX SBOM',
  'application/vnd.in-toto+json': 'in-toto attestation',
};

export function mediaKind(mediaType: string): string {
  return kinds[mediaType] ?? mediaType;
}
