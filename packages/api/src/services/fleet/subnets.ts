// Which Macs share a LAN, as far as the tracker can tell from the addresses an agent's peer server
// reports: the same IPv4 /24 or IPv6 /64. Worked out in JavaScript when facts are stored
// (Node.peerSubnets), since addresses are agent-sent text that PostgreSQL's inet would throw on.
import { isIP } from 'node:net';

/**
 * The subnet an address is in: IPv4 /24, IPv6 /64, and all of 127.0.0.0/8 as one (simulated
 * Macs in tests each have their own 127.0.0.x). undefined for what is not an IP address.
 */
export function subnetOf(address: string): string | undefined {
  const version = isIP(address);
  if (version === 4) {
    const octets = address.split('.');
    return octets[0] === '127' ? '4:127' : `4:${octets.slice(0, 3).join('.')}`;
  }
  if (version !== 6) return undefined;
  const bare = address.toLowerCase().split('%')[0]!;
  const [head = '', tail = ''] = bare.split('::');
  const left = head ? head.split(':') : [];
  const right = bare.includes('::') && tail ? tail.split(':') : [];
  // An embedded IPv4 tail (::ffff:10.0.0.1) takes two groups; only the first four matter here.
  const groups = bare.includes('::') ? [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left;
  return `6:${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}`;
}

/** The distinct subnets of a peer server's addresses (at most as many as addresses). */
export function subnetsOf(addresses: readonly unknown[] | undefined): string[] {
  const subnets = new Set<string>();
  for (const address of addresses ?? []) {
    const subnet = typeof address === 'string' ? subnetOf(address) : undefined;
    if (subnet) subnets.add(subnet);
  }
  return [...subnets];
}

/** Node.peerSubnets for facts as an agent sent them: none without a peer server. */
export function peerSubnetsOf(facts: { peer?: { addresses?: readonly unknown[] } | undefined } | null | undefined): string[] {
  return subnetsOf(facts?.peer?.addresses);
}
