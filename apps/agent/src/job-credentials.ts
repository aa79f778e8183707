// The registry credential of one sync job: the grant the control plane sealed to this node,
// renewed through the control plane (grant.renew -> grant) when the registry refuses it mid-pull.
// The oci AuthManager calls `refresh` on a 401 to a registry token; parallel refusals share one.
import type { Credential, CredentialStore } from '@cider/oci';

export class JobCredential implements CredentialStore {
  constructor(
    private readonly host: string,
    private current: Credential | undefined,
    private readonly renew: () => Promise<Credential | undefined>,
  ) {}

  async get(registry: string): Promise<Credential | undefined> {
    return registry === this.host ? this.current : undefined;
  }

  async refresh(registry: string): Promise<boolean> {
    if (registry !== this.host) return false;
    const next = await this.renew();
    if (!next) return false;
    this.current = next;
    return true;
  }
}
