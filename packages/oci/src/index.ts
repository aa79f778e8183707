export * from './errors.ts';
export * from './digest.ts';
export * from './media-types.ts';
export * from './manifest.ts';
export * from './reference.ts';
export * from './platform.ts';
export { parseChallenges, type Challenge } from './http/challenge.ts';
export { anonymous, ChainedCredentials, RenewableCredential, StaticCredentials, type Credential, type CredentialStore } from './http/credentials.ts';
export { describeNetworkError, type RetryPolicy } from './http/transport.ts';
export { RegistryClient, defaultUserAgent, type RegistryClientOptions } from './registry/client.ts';
export { type PullGrant } from './registry/grant.ts';
export { nextLink, paginate, readJsonPage, type Paginated, type PaginateOptions } from './registry/paginate.ts';
export { listCatalog } from './registry/catalog.ts';
export { printable } from './http/remote-text.ts';
export { Repository, type BlobResponse } from './registry/repository.ts';
export { MemoryRepository, MemoryStore } from './memory-store.ts';
export {
  verifiedManifest,
  type BlobBody,
  type BlobContent,
  type BlobRange,
  type BlobRead,
  type BlobSource,
  type CatalogLister,
  type CatalogOptions,
  type CatalogPage,
  type FetchedManifest,
  type ListReferrersOptions,
  type ManifestContent,
  type ManifestSource,
  type PushBlobResult,
  type PushedReferrer,
  type Pusher,
  type ReferrerLister,
  type RepositorySource,
  type RepositoryStore,
  type TagLister,
} from './source.ts';
export { filesystemPlacer, HostCache, referenceAnnotation, type CachedImage, type HostCacheOptions, type ImageRecord, type Lease, type PayloadPlacer, type Placement } from './cache/cache.ts';
export { defaultHeadroomBytes, ensureSpace, SpaceLedger, statfsFreeSpace, type FreeSpaceProbe, type Reservation, type SpaceRefusal } from './cache/space.ts';
export { assertSafeCacheDirectory, currentOwnerRule, UnsafeCacheDirectoryError, type CacheOwnerRule } from './cache/ownership.ts';
export { CacheLinkError } from './cache/fsutil.ts';
export { pull, type PullCommonOptions, type PullOptions, type PullProgress, type PullResult, type PullSource, type PullSourceResolver } from './pull.ts';
export { fetchBlobToCache, type BlobFetchOptions } from './blob-fetch.ts';
export { digestFile, pushArtifact, type PushArtifactOptions, type PushFile, type PushResult } from './push.ts';
export { fsck, prune, referencedDigests, type FsckProblem, type FsckReport, type PruneReport } from './cache/maintenance.ts';
export { chooseSegmentSize } from './blob-fetch.ts';
export {
  DockerConfigCredentials,
  DockerConfigError,
  defaultDockerConfigFile,
  dockerHubServerAddress,
  normalizeRegistry,
  serverAddress,
  type DockerConfigOptions,
  type StoredIn,
} from './http/docker-config.ts';
export { CredentialHelperError, ProcessCredentialHelperRunner, type CredentialHelperRunner, type HelperResult } from './http/credential-helper.ts';
export { BlobUploader, defaultChunkSize, defaultMonolithicThreshold, type UploadOptions, type UploadSession } from './registry/upload.ts';
export { deleteReferrer, isReferrersTag, listReferrers, pushReferrer, referrerDescriptor, referrersTag } from './registry/referrers.ts';
export { enableMemoryRelief, setMemoryRelief } from './memory.ts';
export { inspectIpsw, osForDevices, type IpswInfo } from './image/ipsw.ts';
export {
  checkCiderImageConfig,
  ciderImageConfigFields,
  defaultPieceSize,
  imageFactsSchema,
  imageKinds,
  isImageKind,
  kindOfMediaType,
  payloadFileFields,
  payloadFilesOf,
  piecesByLayer,
  type CiderImageConfig,
  type ImageFacts,
  type ImageKind,
  type PayloadFile,
  type PayloadPart,
} from './image/config.ts';
export {
  assertTagsFree,
  normalizeExpected,
  partAnnotation,
  partOfAnnotation,
  pushImage,
  pushIpsw,
  type ExpectedDigests,
  type PushIpswOptions,
  type ImageFileInput,
  type PublishProgress,
  type PushImageOptions,
  type PushImageResult,
} from './image/publish.ts';
export { fetchSmallBlob, platformOfImage, pushIndex, type PushIndexOptions, type PushIndexResult } from './image/multi-platform.ts';
export { attachReferrer, referrersOf, type AttachOptions, type AttachResult } from './image/attach.ts';
export { SwarmDownload, type PeerLink, type PeerPieces, type SwarmOptions } from './swarm.ts';
export { PeerClient, type PeerClientOptions } from './peer-client.ts';
export { PieceBoard, clearPiece, countPieces, emptyBitfield, hasPiece, setPiece, type Bitfield, type PartialBlob } from './cache/pieces.ts';
export { fileSource, type ByteSource } from './bytes/byte-source.ts';
export { displayUrl, isHttpUrl, urlSource, type UrlSourceOptions } from './bytes/url-source.ts';
export * from './bundle/types.ts';
export * from './bundle/index.ts';
export * from './apple/types.ts';
export { compareBuilds, compareVersions, fetchAppleCatalog, maxCatalogBytes, newestFirst, parseAppleCatalog, pickRestoreImage, virtualMacProductType, type FetchCatalogOptions } from './apple/catalog.ts';
export { maxSizedImages, restoreImageSize, restoreImageSizes, type RestoreImageSize, type RestoreImageSizeOptions } from './apple/sizes.ts';
