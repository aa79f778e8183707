// The agent <-> control plane protocol: JSON text frames over one WebSocket that the agent opens
// (no inbound port on the Mac). The agent authenticates in the upgrade request
// (`Authorization: Bearer <nodeId>.<secret>`) and names the protocol version it speaks in
// `hello`; the control plane answers `welcome` or an `error` and closes.
//
// Every field is bounded: both ends treat the other as possibly hostile, so a frame that parses
// is one a handler can store without further checks (sizes fit the database, dates are dates,
// strings hold no NUL, which PostgreSQL refuses in text).
import { z } from 'zod';
import { peerTicketPublicKeyPattern } from './peer-ticket.ts';
import { publicKeyPattern } from './sealed-box.ts';

export { generateNodeKeyPair, open as openSealedBox, publicKeyPattern, seal as sealBox, type NodeKeyPair } from './sealed-box.ts';
export * from './peer-ticket.ts';

/**
 * Version 2: agents name their X25519 public key in hello; credentials travel sealed to it.
 * Later additions that either side may ignore keep the version: `sync.cancelled` (sent only in
 * answer to `cancel`), the welcome's `drop` and `peerTicketKey`, the sync's `peers`, `peers`,
 * `peers.renew`, `peer.bad` and `sync.done`'s `sources` (an older agent leaves them out of what it
 * parses, or answers nothing).
 */
export const protocolVersion = 2;
/** WebSocket path on the control plane. */
export const agentPath = '/agent/v1';
/** Enrollment endpoint on the control plane (HTTP POST, JSON). */
export const enrollPath = '/agent/v1/enroll';

/** Largest frame either side accepts; bigger ones close the socket (1009). */
export const maxFrameBytes = 1024 * 1024;
/** Largest enrollment request body. */
export const maxEnrollBodyBytes = 64 * 1024;

/** Bytes, counts and sizes: whole numbers a JavaScript number and a PostgreSQL bigint both hold. */
const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
/** A string of at most `max` characters, with NUL characters removed. */
export const text = (max: number) => z.string().max(max).transform((value) => value.replaceAll('\u0000', ''));
const isoDate = z.iso.datetime({ offset: true });
const digest = z.string().regex(/^sha256:[0-9a-f]{64}$/, 'a sha256 digest');
/** Sync job ids are the control plane's UUIDs. */
const jobId = z.string().max(64).regex(/^[0-9A-Za-z-]+$/, 'a job id');
const reference = text(512);

export const nodeName = z.string().min(1).max(100).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" and "-"');
/** Node labels choose which projects a node serves: a few short key=value pairs. */
export const labels = z
  .record(z.string().min(1).max(63).regex(/^[A-Za-z0-9][A-Za-z0-9._/-]*$/, 'label keys: letters, digits, ".", "_", "/" and "-"'), text(255))
  .refine((value) => Object.keys(value).length <= 32, 'at most 32 labels');

/** Something on the node that needs a person, shown on the dashboard until it clears. */
export const nodeCondition = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('insufficient-space'),
    /** The image that did not fit. */
    digest: digest.optional(),
    reference: reference.optional(),
    neededBytes: count,
    freeBytes: count,
    since: isoDate,
  }),
  /**
   * Other nodes reported that this node's peer server sent bytes that failed verification (a
   * failing disk, or a tampered Mac). Raised by the control plane, not the agent; cleared by an admin.
   */
  z.object({
    type: z.literal('bad-peer-data'),
    digest,
    /** The node that caught it, and how many reports so far. */
    reportedBy: text(100),
    reports: z.number().int().min(1).max(1_000_000),
    reason: text(500),
    since: isoDate,
  }),
]);
export type NodeCondition = z.infer<typeof nodeCondition>;

export const hostFacts = z.object({
  hostname: text(255),
  os: z.object({ platform: text(64), release: text(128), version: text(128).optional() }),
  architecture: text(32),
  cpu: z.object({ model: text(255), cores: z.number().int().nonnegative().max(4096) }),
  memoryBytes: count,
  disk: z.object({ totalBytes: count, freeBytes: count }),
  cache: z.object({ path: text(1024), bytes: count, quotaBytes: count.optional() }),
  conditions: z.array(nodeCondition).max(8).default([]),
  /** The agent's peer server, when it runs: its port and the addresses other Macs may reach it at. */
  peer: z
    .object({
      port: z.number().int().min(1).max(65535),
      addresses: z.array(text(64)).max(32),
      /** Body bytes sent to peers since the agent started, and uploads running now (the tracker's load measure). */
      uploadedBytes: count.optional(),
      uploadsInFlight: z.number().int().min(0).max(10_000).optional(),
    })
    .optional(),
});
export type HostFacts = z.infer<typeof hostFacts>;

/** One image the agent holds: every blob present and verified. */
export const heldImage = z.object({
  digest,
  reference: reference.optional(),
  tags: z.array(text(128)).max(64).default([]),
  sizeBytes: count,
  verifiedAt: isoDate,
  lastUsedAt: isoDate.optional(),
});
export type HeldImage = z.infer<typeof heldImage>;

/** An agent reports at most this many held images in one message. */
export const maxHeldImages = 4096;

export const syncPhase = z.enum(['queued', 'resolving', 'downloading', 'materializing', 'done']);

/**
 * What the agent needs to pull one image, and nothing more. `grant`, when present, is a sealed
 * box (to the node's key, context `grantContext(jobId)`) holding a RegistryGrant as JSON: a
 * short-lived pull-only token where the registry speaks token auth, else the Basic credential.
 */
export const registryAccess = z.object({
  host: text(255),
  plainHttp: z.boolean(),
  grant: z.string().max(32 * 1024).optional(),
});
export type RegistryAccess = z.infer<typeof registryAccess>;

export const registryGrant = z.discriminatedUnion('kind', [
  /** A bearer token from the registry's token service, scoped to pull one repository. */
  z.object({ kind: z.literal('bearer'), token: z.string().max(16 * 1024), expiresAt: isoDate, scope: text(1024) }),
  /** The registry speaks only Basic: the credential itself, sealed so only this node reads it. */
  z.object({ kind: z.literal('basic'), username: z.string().max(1024), password: z.string().max(4096) }),
]);
export type RegistryGrant = z.infer<typeof registryGrant>;

/** The sealed-box context of a job's registry grant: a box cannot be moved to another job. */
export function grantContext(syncJobId: string): string {
  return `cider grant ${syncJobId}`;
}

/**
 * The sealed-box context of a job's mirror grant: another context than the registry's, so the
 * mirror's credential cannot be passed off as the registry's (or the other way round).
 */
export function mirrorGrantContext(syncJobId: string): string {
  return `cider mirror grant ${syncJobId}`;
}

/** The sealed-box context of a rotated node secret. */
export function secretContext(nodeId: string): string {
  return `cider node secret ${nodeId}`;
}

/** Pieces a progress report lists one by one, at most (a 17 GB image at 64 MiB pieces has 272). */
export const maxReportedPieces = 4096;

/** Which pieces of a layer a node has verified: how many, and (up to maxReportedPieces) which, as a base64 bitfield. */
export const piecesProgress = z.object({
  digest,
  done: count,
  total: count,
  bits: z.string().max(Math.ceil(maxReportedPieces / 8 / 3) * 4).regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64').optional(),
});
export type PiecesProgress = z.infer<typeof piecesProgress>;

/** Longest peer ticket accepted in a frame (ours are ~250 characters). */
const maxTicketLength = 2048;

/**
 * A peer the agent may read the job's blobs from: another node's peer server, with a ticket the
 * control plane signed for this reader, that server and the job's manifest digest
 * (peer-ticket.ts). `complete` peers hold the whole image; the others are fetching it and serve
 * the pieces they have verified so far.
 */
export const peerCandidate = z.object({
  nodeId: z.string().max(64),
  /** For logs and the dashboard. */
  name: text(100),
  /** `http://<address>:<port>`, the first that answers is used. */
  urls: z.array(z.string().max(300).regex(/^http:\/\/[^\s/?#]+$/, 'http://host:port')).min(1).max(8),
  ticket: z.string().min(1).max(maxTicketLength),
  complete: z.boolean(),
});
export type PeerCandidate = z.infer<typeof peerCandidate>;

/**
 * Where a job may take its bytes besides the registry. `origin`: this node is one of the few of its
 * site that take pieces no peer has from the registry straight away; the others wait for peers and
 * go to the registry only when no peer makes progress.
 */
export const peerPlan = z.object({
  origin: z.boolean(),
  candidates: z.array(peerCandidate).max(16),
});
export type PeerPlan = z.infer<typeof peerPlan>;

/** Bytes a pull took from each source: the registry, a mirror, and peers by node id. */
export const bytesBySource = z.object({
  registry: count,
  mirror: count.default(0),
  peers: z.record(z.string().max(64), count).refine((value) => Object.keys(value).length <= 64, 'at most 64 peers'),
});
export type BytesBySource = z.infer<typeof bytesBySource>;

export const agentMessage = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('hello'),
    protocol: z.number().int().min(0).max(1000),
    agentVersion: text(64),
    /** The node's X25519 public key: credentials for it are sealed to this key. */
    publicKey: z.string().regex(publicKeyPattern, 'an X25519 public key (base64url)'),
    facts: hostFacts,
    images: z.array(heldImage).max(maxHeldImages),
    /** Jobs the agent is still working on (after a reconnect). */
    activeJobs: z.array(jobId).max(256).default([]),
  }),
  z.object({ type: z.literal('heartbeat'), facts: hostFacts }),
  z.object({ type: z.literal('inventory'), images: z.array(heldImage).max(maxHeldImages), reason: text(200).optional() }),
  z.object({
    type: z.literal('sync.progress'),
    jobId,
    phase: syncPhase,
    bytesDone: count,
    bytesTotal: count,
    /** The verified pieces of the layer being fetched, for the tracker (`bits` only up to 4,096 pieces). */
    pieces: piecesProgress.optional(),
  }),
  z.object({ type: z.literal('sync.done'), jobId, digest, image: heldImage, bytesFetched: count, sources: bytesBySource.optional() }),
  z.object({
    type: z.literal('sync.failed'),
    jobId,
    code: text(64),
    message: text(2000),
    /** False when retrying cannot help (not found, digest mismatch, no space). */
    retryable: z.boolean(),
    /** For INSUFFICIENT_SPACE: what the pull needs and what the disk has. */
    space: z.object({ neededBytes: count, freeBytes: count }).optional(),
  }),
  /**
   * The agent stopped a job it was told to cancel (or to drop in a welcome), keeping the verified
   * partial data for a later resume; also its answer to a cancel of a job it does not run.
   */
  z.object({ type: z.literal('sync.cancelled'), jobId }),
  /** The registry grant of a running job expired mid-pull: the agent asks for a fresh one. */
  z.object({ type: z.literal('grant.renew'), jobId }),
  /** The job's peers are used up or their tickets near expiry: the agent asks for fresh candidates (answered by `peers`). */
  z.object({ type: z.literal('peers.renew'), jobId }),
  /**
   * A peer served bytes that did not match their piece digest (or broke the protocol): it was
   * dropped for this transfer. The control plane audits it and flags the peer node.
   */
  z.object({ type: z.literal('peer.bad'), jobId, nodeId: z.string().max(64), digest, reason: text(500) }),
  /** The agent stored a rotated secret and will use it from its next connection. */
  z.object({ type: z.literal('secret.stored') }),
  z.object({
    type: z.literal('eviction'),
    digest,
    reference: reference.optional(),
    reason: text(500),
    freedBytes: count,
  }),
]);
export type AgentMessage = z.infer<typeof agentMessage>;

export const controlMessage = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('welcome'),
    nodeId: z.string().max(64),
    nodeName: z.string().max(100),
    heartbeatIntervalMs: z.number().int().positive().max(3_600_000),
    /** Digests the node must keep (its pins); eviction never touches them. */
    pinned: z.array(digest).max(maxHeldImages).default([]),
    /** Jobs from the hello's `activeJobs` to stop: cancelled, finished or unknown while the agent was away. */
    drop: z.array(jobId).max(256).default([]),
    /** The control plane's Ed25519 key for peer tickets (peer-ticket.ts): what the agent's peer server checks tickets with. */
    peerTicketKey: z.string().regex(peerTicketPublicKeyPattern).optional(),
  }),
  z.object({
    type: z.literal('sync'),
    jobId,
    digest,
    reference,
    registry: registryAccess,
    /** Peers to take pieces from (issue 10); without it the agent pulls from the registry alone. */
    peers: peerPlan.optional(),
    /**
     * The site's pull-through cache of this registry (issue 10): the agent reads the same
     * repository from it first and falls back to `registry` on any failure. Its grant, when any,
     * is sealed with `mirrorGrantContext(jobId)`. Older agents ignore it.
     */
    mirror: registryAccess.optional(),
  }),
  /** Fresh peer candidates for a running job (answer to peers.renew). */
  z.object({ type: z.literal('peers'), jobId, peers: peerPlan }),
  /** A fresh registry grant for a running job (answer to grant.renew). */
  z.object({ type: z.literal('grant'), jobId, registry: registryAccess }),
  z.object({ type: z.literal('cancel'), jobId, reason: text(500) }),
  z.object({ type: z.literal('pinned'), digests: z.array(digest).max(maxHeldImages) }),
  /** An admin rotated this node's secret: a sealed box (context `secretContext(nodeId)`) holding the new one. */
  z.object({ type: z.literal('secret'), sealed: z.string().max(4096) }),
  /**
   * An admin decommissioned this node and chose to purge its cache: the agent stops its pulls and
   * removes every image, pinned or not. The socket closes right after (the node is revoked), so
   * the agent reports nothing back. Older agents ignore it.
   */
  z.object({ type: z.literal('purge'), reason: text(500) }),
  z.object({ type: z.literal('error'), code: text(64), message: text(2000) }),
]);
export type ControlMessage = z.infer<typeof controlMessage>;

export const enrollRequest = z.object({
  token: z.string().min(1).max(200),
  name: nodeName,
  labels: labels.default({}),
  /** The node's X25519 public key (the private key never leaves the Mac). */
  publicKey: z.string().regex(publicKeyPattern, 'an X25519 public key (base64url)').optional(),
  facts: hostFacts.optional(),
});
export type EnrollRequest = z.infer<typeof enrollRequest>;

export const enrollResponse = z.object({ nodeId: z.string().max(64), nodeName: z.string().max(100), secret: z.string().max(200) });
export type EnrollResponse = z.infer<typeof enrollResponse>;

/** WebSocket close codes the control plane uses (4000-4999 are the application's). */
export const CloseCode = {
  badMessage: 4400,
  unauthorized: 4401,
  revoked: 4403,
  protocolMismatch: 4426,
  replaced: 4409,
  tooManyMessages: 4429,
  /** The node's secret was rotated: reconnect with the new one. */
  secretRotated: 4410,
  shuttingDown: 1001,
  /** ws's own code for a frame over maxPayload. */
  tooLarge: 1009,
} as const;

export function encode(message: AgentMessage | ControlMessage): string {
  return JSON.stringify(message);
}

/** Parses a frame; returns a readable error instead of throwing. */
export function decode<T extends z.ZodTypeAny>(schema: T, raw: string): { ok: true; value: z.infer<T> } | { ok: false; error: string } {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { ok: false, error: 'frame is not JSON' };
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) return { ok: false, error: z.prettifyError(parsed.error).slice(0, 1000) };
  return { ok: true, value: parsed.data };
}

/** The BullMQ job id of "node N must hold digest D" (BullMQ allows at most two ':' in custom ids). */
export function syncJobKey(nodeId: string, manifestDigest: string): string {
  return `sync:${nodeId}:${manifestDigest.replace(':', '-')}`;
}
