import type { Metadata } from 'next';
import { parseView } from '../../../components/nodes/node-filter-values.ts';
import { NodesView } from '../../../components/nodes/nodes-view.tsx';

export const metadata: Metadata = { title: 'Nodes' };

type Search = Promise<Record<string, string | string[] | undefined>>;

export default async function NodesPage({ searchParams }: { searchParams: Search }) {
  const search = await searchParams;
  return <NodesView initial={parseView((name) => [search[name]].flat()[0])} />;
}
