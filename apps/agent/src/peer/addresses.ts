// The addresses other Macs may reach this agent's peer server at, reported with its facts so the
// tracker can match peers by subnet. Bound to one address: that address alone (each simulated Mac
// in tests has its own 127.0.0.x). Bound to every interface: the up, non-loopback addresses,
// IPv4 first, link-local IPv6 left out (it needs a zone to be reachable).
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';

const everywhere = new Set(['0.0.0.0', '::', '']);
/** The facts schema's limit. */
const maxAddresses = 32;

export function peerAddresses(host: string, interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces()): string[] {
  if (!everywhere.has(host)) return [host];
  const found: NetworkInterfaceInfo[] = [];
  for (const list of Object.values(interfaces)) for (const info of list ?? []) if (!info.internal && !(info.family === 'IPv6' && info.address.toLowerCase().startsWith('fe80:'))) found.push(info);
  found.sort((a, b) => (a.family === b.family ? 0 : a.family === 'IPv4' ? -1 : 1));
  return [...new Set(found.map((info) => info.address))].slice(0, maxAddresses);
}
