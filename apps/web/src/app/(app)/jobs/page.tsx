import type { Metadata } from 'next';
import { isStateOption } from '../../../components/jobs/job-filter-values.ts';
import { JobsView } from '../../../components/jobs/jobs-view.tsx';

export const metadata: Metadata = { title: 'Jobs' };

type Search = Promise<Record<string, string | string[] | undefined>>;

function one(value: string | string[] | undefined): string | undefined {
  return (Array.isArray(value) ? value[0] : value) || undefined;
}

export default async function JobsPage({ searchParams }: { searchParams: Search }) {
  const search = await searchParams;
  const state = one(search.state);
  return <JobsView initial={{ state: isStateOption(state) ? state : undefined, nodeId: one(search.node), digest: one(search.digest) }} />;
}
