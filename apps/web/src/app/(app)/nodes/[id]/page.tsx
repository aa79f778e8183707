import type { Metadata } from 'next';
import { NodeView } from '../../../../components/node/node-view.tsx';

export const metadata: Metadata = { title: 'Node' };

export default async function NodePage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  return <NodeView nodeId={id} />;
}
