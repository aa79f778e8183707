import { enrollPath, enrollResponse, generateNodeKeyPair, type HostFacts } from '@cider/protocol';
import type { AgentConfig } from './config.ts';

export interface EnrollOptions {
  server: string;
  token: string;
  name: string;
  labels: Record<string, string>;
  cacheDir: string;
  quotaBytes?: number;
  facts?: HostFacts;
}

/** Trades an enrollment token for this node's identity at the control plane. */
export async function enroll(options: EnrollOptions): Promise<AgentConfig> {
  let url: URL;
  try {
    url = new URL(enrollPath, options.server);
  } catch {
    throw new Error(`"${options.server}" is not a URL; give the control plane's address, e.g. http://cider.example.com:4000`);
  }
  // The private key never leaves this Mac; the control plane seals what it sends to the public one.
  const keys = generateNodeKeyPair();
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: options.token, name: options.name, labels: options.labels, publicKey: keys.publicKey, facts: options.facts }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    throw new Error(`Cannot reach the control plane at ${url.origin}${cause ? ` (${cause})` : ''}. Check the --server address and that the control plane is running.`);
  }
  const body = (await response.json().catch(() => ({}))) as { error?: string };
  if (!response.ok) throw new Error(`Enrollment refused (${response.status}): ${body.error ?? 'no reason given'}`);
  const identity = enrollResponse.parse(body);
  return {
    server: options.server,
    nodeId: identity.nodeId,
    nodeName: identity.nodeName,
    secret: identity.secret,
    ...keys,
    cacheDir: options.cacheDir,
    ...(options.quotaBytes ? { quotaBytes: options.quotaBytes } : {}),
  };
}
