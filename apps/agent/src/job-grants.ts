// Registry grants for sync jobs: what the control plane sealed to this node's key for one job's
// pull (a short-lived pull token, or a Basic-only registry's credential), and the renewal of a
// token that expires in the middle of a long pull.
import { grantContext, openSealedBox, registryGrant, type AgentMessage, type NodeKeyPair, type RegistryAccess } from '@cider/protocol';
import type { Credential } from '@cider/oci';
import type { Logger } from 'pino';

/** A job's registry grant, opened with this node's private key (it was sealed to it for this job); a mirror's has its own `context`. */
export function openGrant(keys: NodeKeyPair, jobId: string, registry: RegistryAccess, context = grantContext(jobId)): Credential | undefined {
  if (!registry.grant) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(openSealedBox(keys, registry.grant, context));
  } catch (error) {
    throw new Error(`The registry grant of job ${jobId} does not open with this node's key: ${error instanceof Error ? error.message : String(error)}`);
  }
  const parsed = registryGrant.safeParse(json);
  if (!parsed.success) throw new Error(`The registry grant of job ${jobId} is not a grant this agent understands.`);
  const grant = parsed.data;
  if (grant.kind === 'basic') return { kind: 'basic', username: grant.username, password: grant.password };
  return { kind: 'registry-token', token: grant.token };
}

/** Pulls waiting for a renewed grant, one per job; answers arrive as `grant` messages. */
export class GrantRenewals {
  private readonly waiters = new Map<string, (registry: RegistryAccess | undefined) => void>();

  constructor(
    private readonly options: {
      keys: () => NodeKeyPair;
      send: (message: AgentMessage) => void;
      connected: () => boolean;
      log: Logger;
      timeoutMs: number;
    },
  ) {}

  /**
   * The registry refused the job's token mid-pull (it expired): ask the control plane for a new
   * grant and wait for it, a bounded time. Undefined when none comes; the pull then fails as
   * unauthorized.
   */
  async renew(jobId: string, host: string): Promise<Credential | undefined> {
    if (!this.options.connected() || this.waiters.has(jobId)) return undefined;
    const log = this.options.log.child({ jobId });
    const registry = await new Promise<RegistryAccess | undefined>((resolve) => {
      const timer = setTimeout(() => {
        this.waiters.delete(jobId);
        resolve(undefined);
      }, this.options.timeoutMs);
      timer.unref();
      this.waiters.set(jobId, (access) => {
        clearTimeout(timer);
        this.waiters.delete(jobId);
        resolve(access);
      });
      log.info('registry token expired mid-pull; asking the control plane for a new grant');
      this.options.send({ type: 'grant.renew', jobId });
    });
    if (!registry) {
      log.warn('no renewed registry grant came from the control plane');
      return undefined;
    }
    try {
      // The job's registry, whatever host the message names: a grant is for this job's pull only.
      return openGrant(this.options.keys(), jobId, { ...registry, host });
    } catch (error) {
      log.warn({ err: error }, 'the renewed registry grant could not be used');
      return undefined;
    }
  }

  /** A `grant` message from the control plane. */
  deliver(jobId: string, registry: RegistryAccess): void {
    const waiter = this.waiters.get(jobId);
    if (!waiter) this.options.log.debug({ jobId }, 'registry grant for no pull waiting on one');
    waiter?.(registry);
  }

  /** The socket closed: an answer could only have come on it. */
  abandonAll(): void {
    for (const waiter of [...this.waiters.values()]) waiter(undefined);
  }
}
