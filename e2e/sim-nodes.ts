// Nodes of a spec's own whose agent is reduced to its wire (SimAgent): enrolled for real with an
// enrollment token, greeted, and then told by the spec what to say, so a page can be shown a node
// mid-download, or a job that never finishes, on demand. A node can also be enrolled and never
// connected (offline from the start), or its agent reconnected later with the same keys.
import { enrollPath, generateNodeKeyPair, protocolVersion, type HeldImage, type HostFacts, type NodeKeyPair } from '@cider/protocol';
import { expect } from '@playwright/test';
import { SimAgent, simFacts } from '../apps/control/testing/wire.ts';

export interface EnrolledNode {
  nodeId: string;
  /** `nodeId.secret`, what the agent connects with. */
  credentials: string;
  keys: NodeKeyPair;
}

export interface SimNode extends EnrolledNode {
  agent: SimAgent;
}

/** Enrolls `name` over HTTP only, as an agent would; its agent never connects. `facts` go with the enrollment. */
export async function enrollNode(controlUrl: string, token: string, node: { name: string; labels: Record<string, string>; facts?: HostFacts }): Promise<EnrolledNode> {
  const keys = generateNodeKeyPair();
  const enrolled = await fetch(`${controlUrl}${enrollPath}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token, name: node.name, labels: node.labels, publicKey: keys.publicKey, facts: node.facts }),
  });
  expect(enrolled.status, `enrolling ${node.name}`).toBe(200);
  const { nodeId, secret } = (await enrolled.json()) as { nodeId: string; secret: string };
  return { nodeId, credentials: `${nodeId}.${secret}`, keys };
}

/** Opens an enrolled node's agent socket and says hello (holding `images`); resolves once welcomed. */
export async function connectSimAgent(controlUrl: string, node: EnrolledNode, hello: { name: string; facts?: Partial<HostFacts>; images?: HeldImage[] }): Promise<SimAgent> {
  const agent = await SimAgent.open(controlUrl, node.credentials);
  agent.send({ type: 'hello', protocol: protocolVersion, agentVersion: 'sim', publicKey: node.keys.publicKey, facts: { ...simFacts, hostname: hello.name, ...hello.facts }, images: hello.images ?? [], activeJobs: [] });
  await agent.next((m) => m.type === 'welcome');
  return agent;
}

/** Enrolls `name` with `labels`, opens its agent's socket and says hello; resolves once welcomed. */
export async function enrollSimNode(controlUrl: string, token: string, node: { name: string; labels: Record<string, string>; facts?: Partial<HostFacts>; images?: HeldImage[] }): Promise<SimNode> {
  const enrolled = await enrollNode(controlUrl, token, { name: node.name, labels: node.labels });
  return { ...enrolled, agent: await connectSimAgent(controlUrl, enrolled, node) };
}
