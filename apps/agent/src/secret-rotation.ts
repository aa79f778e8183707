// An admin rotated this node's secret: the control plane sends the new one sealed to the node's
// key. The agent opens it, stores it (atomically, 0600) and says so; the control plane then
// closes the socket and the agent reconnects with the new secret, which retires the old one.
// Until `secret.stored` arrives the old secret keeps working, so a failure here loses nothing.
import { openSealedBox, secretContext } from '@cider/protocol';
import { writeAgentConfig, type AgentConfig } from './config.ts';

/** Node secrets are printable ASCII tokens without spaces (they go in an Authorization header). */
const secretPattern = /^[\x21-\x7e]{8,200}$/;

export async function storeRotatedSecret(config: AgentConfig, configPath: string | undefined, sealed: string): Promise<AgentConfig> {
  if (!configPath) throw new Error('The control plane rotated this node\'s secret, but this agent was started without a config file to store it in; it keeps the old one.');
  const secret = openSealedBox(config, sealed, secretContext(config.nodeId));
  if (!secretPattern.test(secret)) throw new Error('The rotated secret the control plane sent is not a node secret; keeping the old one.');
  const next: AgentConfig = { ...config, secret };
  await writeAgentConfig(configPath, next);
  return next;
}
