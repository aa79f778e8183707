import { enrollPath, enrollResponse, generateNodeKeyPair, maxEnrollBodyBytes, type HostFacts } from '@cider/protocol';
import type { AgentConfig } from './config.ts';
import { printable } from './printable.ts';
import { assertSecureServer } from './transport-policy.ts';

export interface EnrollOptions {
  server: string;
  token: string;
  name: string;
  labels: Record<string, string>;
  cacheDir: string;
  quotaBytes?: number;
  facts?: HostFacts;
  /** Allow plain http:// to a control plane that is not on loopback (stored in the config). */
  insecure?: boolean;
}

/** The control plane's answer, read up to a limit: a hostile server can't make us buffer without end. */
async function readBoundedJson(response: Response, limit: number): Promise<unknown> {
  const reader = response.body?.getReader();
  if (!reader) return {};
  const chunks: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    length += value.length;
    if (length > limit) {
      await reader.cancel().catch(() => {});
      throw new Error(`The control plane's answer to enrollment is over ${limit} bytes; is --server the Cider control plane?`);
    }
    chunks.push(value);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return {};
  }
}

/** Trades an enrollment token for this node's identity at the control plane. */
export async function enroll(options: EnrollOptions): Promise<AgentConfig> {
  const url = new URL(enrollPath, assertSecureServer(options.server, options.insecure));
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
  const body = (await readBoundedJson(response, maxEnrollBodyBytes)) as { error?: unknown };
  if (!response.ok) {
    const reason = typeof body.error === 'string' ? printable(body.error, 500) : 'no reason given';
    throw new Error(`Enrollment refused (${response.status}): ${reason}`);
  }
  const parsed = enrollResponse.safeParse(body);
  if (!parsed.success) throw new Error(`The control plane at ${url.origin} answered enrollment with something that is not an identity; is --server the Cider control plane?`);
  const identity = parsed.data;
  return {
    server: options.server,
    nodeId: identity.nodeId,
    nodeName: identity.nodeName,
    secret: identity.secret,
    ...keys,
    cacheDir: options.cacheDir,
    ...(options.quotaBytes ? { quotaBytes: options.quotaBytes } : {}),
    ...(options.insecure ? { insecure: true } : {}),
  };
}
