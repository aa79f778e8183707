// Nodes of a spec's own whose agent is reduced to its wire (SimAgent): enrolled for real with an
// enrollment token, greeted, and then told by the spec what to say, so a page can be shown a node
// mid-download, or a job that never finishes, on demand.
import { enrollPath, generateNodeKeyPair, protocolVersion, type HostFacts } from '@cider/protocol';
import { expect } from '@playwright/test';
import { SimAgent, simFacts } from '../apps/control/testing/wire.ts';

export interface SimNode {
  nodeId: string;
  agent: SimAgent;
}

/** Enrolls `name` with `labels`, opens its agent's socket and says hello; resolves once welcomed. */
export async function enrollSimNode(controlUrl: string, token: string, node: { name: string; labels: Record<string, string>; facts?: Partial<HostFacts> }): Promise<SimNode> {
  const keys = generateNodeKeyPair();
  const enrolled = await fetch(`${controlUrl}${enrollPath}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token, name: node.name, labels: node.labels, publicKey: keys.publicKey }),
  });
  expect(enrolled.status).toBe(200);
  const { nodeId, secret } = (await enrolled.json()) as { nodeId: string; secret: string };
  const agent = await SimAgent.open(controlUrl, `${nodeId}.${secret}`);
  agent.send({ type: 'hello', protocol: protocolVersion, agentVersion: 'sim', publicKey: keys.publicKey, facts: { ...simFacts, hostname: node.name, ...node.facts }, images: [], activeJobs: [] });
  await agent.next((m) => m.type === 'welcome');
  return { nodeId, agent };
}
