// The agent <-> control plane protocol: JSON text frames over one WebSocket that the agent opens
// (no inbound port on the Mac). The agent authenticates in the upgrade request
// (`Authorization: Bearer <nodeId>.<secret>`) and names the protocol version it speaks in
// `hello`; the control plane answers `welcome` or an `error` and closes.
import { z } from 'zod';

export const protocolVersion = 1;
/** WebSocket path on the control plane. */
export const agentPath = '/agent/v1';
/** Enrollment endpoint on the control plane (HTTP POST, JSON). */
export const enrollPath = '/agent/v1/enroll';

const digest = z.string().regex(/^sha256:[0-9a-f]{64}$/, 'a sha256 digest');

export const hostFacts = z.object({
  hostname: z.string(),
  os: z.object({ platform: z.string(), release: z.string(), version: z.string().optional() }),
  architecture: z.string(),
  cpu: z.object({ model: z.string(), cores: z.number().int().nonnegative() }),
  memoryBytes: z.number().nonnegative(),
  disk: z.object({ totalBytes: z.number().nonnegative(), freeBytes: z.number().nonnegative() }),
  cache: z.object({ path: z.string(), bytes: z.number().nonnegative(), quotaBytes: z.number().nonnegative().optional() }),
});
export type HostFacts = z.infer<typeof hostFacts>;

/** One image the agent holds: every blob present and verified. */
export const heldImage = z.object({
  digest,
  reference: z.string().optional(),
  tags: z.array(z.string()).default([]),
  sizeBytes: z.number().nonnegative(),
  verifiedAt: z.string(),
  lastUsedAt: z.string().optional(),
});
export type HeldImage = z.infer<typeof heldImage>;

export const syncPhase = z.enum(['queued', 'resolving', 'downloading', 'materializing', 'done']);

/** What the agent needs to pull one image, and nothing more: one registry's credential. */
export const registryAccess = z.object({
  host: z.string(),
  plainHttp: z.boolean(),
  credential: z.object({ username: z.string(), password: z.string() }).optional(),
});
export type RegistryAccess = z.infer<typeof registryAccess>;

export const agentMessage = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('hello'),
    protocol: z.number().int(),
    agentVersion: z.string(),
    facts: hostFacts,
    images: z.array(heldImage),
    /** Jobs the agent is still working on (after a reconnect). */
    activeJobs: z.array(z.string()).default([]),
  }),
  z.object({ type: z.literal('heartbeat'), facts: hostFacts }),
  z.object({ type: z.literal('inventory'), images: z.array(heldImage), reason: z.string().optional() }),
  z.object({
    type: z.literal('sync.progress'),
    jobId: z.string(),
    phase: syncPhase,
    bytesDone: z.number().nonnegative(),
    bytesTotal: z.number().nonnegative(),
  }),
  z.object({ type: z.literal('sync.done'), jobId: z.string(), digest, image: heldImage, bytesFetched: z.number().nonnegative() }),
  z.object({
    type: z.literal('sync.failed'),
    jobId: z.string(),
    code: z.string(),
    message: z.string(),
    /** False when retrying cannot help (not found, digest mismatch, no space). */
    retryable: z.boolean(),
  }),
  z.object({
    type: z.literal('eviction'),
    digest,
    reference: z.string().optional(),
    reason: z.string(),
    freedBytes: z.number().nonnegative(),
  }),
]);
export type AgentMessage = z.infer<typeof agentMessage>;

export const controlMessage = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('welcome'),
    nodeId: z.string(),
    nodeName: z.string(),
    heartbeatIntervalMs: z.number().int().positive(),
    /** Digests the node must keep (its pins); eviction never touches them. */
    pinned: z.array(digest).default([]),
  }),
  z.object({
    type: z.literal('sync'),
    jobId: z.string(),
    digest,
    reference: z.string(),
    registry: registryAccess,
  }),
  z.object({ type: z.literal('cancel'), jobId: z.string(), reason: z.string() }),
  z.object({ type: z.literal('pinned'), digests: z.array(digest) }),
  z.object({ type: z.literal('error'), code: z.string(), message: z.string() }),
]);
export type ControlMessage = z.infer<typeof controlMessage>;

export const enrollRequest = z.object({
  token: z.string().min(1),
  name: z.string().min(1).max(100).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" and "-"'),
  labels: z.record(z.string(), z.string()).default({}),
  facts: hostFacts.optional(),
});
export type EnrollRequest = z.infer<typeof enrollRequest>;

export const enrollResponse = z.object({ nodeId: z.string(), nodeName: z.string(), secret: z.string() });
export type EnrollResponse = z.infer<typeof enrollResponse>;

/** WebSocket close codes the control plane uses (4000-4999 are the application's). */
export const CloseCode = {
  unauthorized: 4401,
  revoked: 4403,
  protocolMismatch: 4426,
  replaced: 4409,
  shuttingDown: 1001,
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
  if (!parsed.success) return { ok: false, error: z.prettifyError(parsed.error) };
  return { ok: true, value: parsed.data };
}

/** The BullMQ job id of "node N must hold digest D" (BullMQ allows at most two ':' in custom ids). */
export function syncJobKey(nodeId: string, manifestDigest: string): string {
  return `sync:${nodeId}:${manifestDigest.replace(':', '-')}`;
}
