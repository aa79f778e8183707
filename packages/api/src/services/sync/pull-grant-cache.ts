// Pull grants shared while they are fresh: a rollout to a thousand nodes from a registry with
// token auth asks its token service once per repository and token lifetime, not once per node.
// Each node still gets the token sealed to its own key; the token itself only allows pulling
// that one repository, whoever holds it.
import type { PullGrant } from '@cider/oci';

/** A bearer token is handed out while it has at least this long to live (a pull renews it after). */
const minRemainingMs = 60_000;
/** How long "this registry wants Basic" or "this repository is public" is believed. */
const decisionLifetimeMs = 60_000;
const maxEntries = 1_000;

export class PullGrantCache {
  private readonly entries = new Map<string, { grant: PullGrant; until: number }>();
  /** Grants being issued: a thousand jobs dispatched at once wait on one token request. */
  private readonly issuing = new Map<string, Promise<PullGrant>>();

  /** The shared grant for `key`, issuing one (once, however many ask at the same time) when none is fresh. */
  async fetch(key: string, issue: () => Promise<PullGrant>): Promise<PullGrant> {
    const fresh = this.get(key);
    if (fresh) return fresh;
    let pending = this.issuing.get(key);
    if (!pending) {
      pending = issue()
        .then((grant) => {
          this.set(key, grant);
          return grant;
        })
        .finally(() => this.issuing.delete(key));
      this.issuing.set(key, pending);
    }
    return pending;
  }

  get(key: string, now = Date.now()): PullGrant | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.until > now) return entry.grant;
    this.entries.delete(key);
    return undefined;
  }

  set(key: string, grant: PullGrant, now = Date.now()): void {
    const until = grant.kind === 'bearer' ? Date.parse(grant.expiresAt) - minRemainingMs : now + decisionLifetimeMs;
    if (!(until > now)) return;
    // Oldest first out: Map keeps insertion order.
    if (this.entries.size >= maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { grant, until });
  }
}
