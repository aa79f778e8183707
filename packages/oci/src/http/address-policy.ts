// Where a registry may send us. A registry names URLs we then connect to (a Bearer realm, a
// redirect's Location, an upload Location, a Link to the next page); a hostile or compromised
// registry could name an address inside the host's network that answers anyone who asks,
// above all a cloud's instance metadata service, which hands out the machine's own credentials.
// Such addresses are refused: link-local ranges (where metadata services live), the known
// metadata addresses and names, and the unspecified address. Loopback stays allowed: tests and
// on-prem registries on the same machine use it, and loopback is not a metadata service.
// Literal IPs are checked in the URL (Node connects to them without a lookup); DNS names are
// checked at connect time by `guardedLookup`, on the addresses the socket will really use, so
// a name cannot resolve one way for a check and another way for the connection.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';

const forbidden = new BlockList();
// IPv4 link-local (RFC 3927): AWS, GCP, Azure, Oracle and OpenStack metadata at 169.254.169.254.
forbidden.addSubnet('169.254.0.0', 16, 'ipv4');
// IPv6 link-local (RFC 4291 §2.5.6).
forbidden.addSubnet('fe80::', 10, 'ipv6');
// AWS's IPv6 metadata endpoint.
forbidden.addAddress('fd00:ec2::254', 'ipv6');
// Alibaba Cloud's metadata service.
forbidden.addAddress('100.100.100.200', 'ipv4');
// Azure's WireServer (hands VM agents their configuration).
forbidden.addAddress('168.63.129.16', 'ipv4');
// The unspecified addresses: a connection to them reaches this host by surprise.
forbidden.addSubnet('0.0.0.0', 8, 'ipv4');
forbidden.addAddress('::', 'ipv6');

/** Names of metadata services that resolve only inside a cloud. */
const forbiddenNames = new Set(['metadata.google.internal', 'metadata.goog', 'metadata', 'instance-data', 'instance-data.ec2.internal', 'metadata.tencentyun.com']);

/** The error code of a refused address; not transient, so never retried. */
export const forbiddenAddressCode = 'EFORBIDDENADDRESS';

/** Why an IP address must not be connected to, or undefined when it may. */
export function forbiddenAddressReason(address: string): string | undefined {
  const family = isIP(address);
  if (family === 0) return undefined;
  if (!forbidden.check(address, family === 4 ? 'ipv4' : 'ipv6')) return undefined;
  return `${address} is a link-local, cloud metadata or unspecified address`;
}

/** Why a URL's host must not be connected to: a forbidden literal IP or metadata name. DNS names are checked when connecting. */
export function forbiddenHostReason(url: URL): string | undefined {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '').toLowerCase();
  if (forbiddenNames.has(host)) return `${host} is a cloud metadata service`;
  return forbiddenAddressReason(host);
}

export function forbiddenAddressError(host: string, reason: string): Error {
  return Object.assign(new Error(`refused to connect to ${host}: ${reason}`), { code: forbiddenAddressCode });
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;
type LookupFunction = (hostname: string, options: object, callback: LookupCallback) => void;

/**
 * A `lookup` for node:net that refuses a name resolving to a forbidden address (any of them,
 * when several). `resolve` is dns.lookup; tests pass their own.
 */
export function guardedLookup(resolve: LookupFunction = dnsLookup as unknown as LookupFunction): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, options, (error, address, family) => {
      if (error) return callback(error, address, family);
      const addresses = Array.isArray(address) ? address.map((a) => a.address) : [address];
      for (const candidate of addresses) {
        const reason = forbiddenAddressReason(candidate);
        if (reason) return callback(forbiddenAddressError(hostname, `it resolves to ${reason}`) as NodeJS.ErrnoException, address, family);
      }
      callback(null, address, family);
    });
  };
}
