import type { Metadata } from 'next';
import { RepositoriesView } from '../../../../components/images/repositories-view.tsx';

export const metadata: Metadata = { title: 'Registry images' };

export default async function RegistryImagesPage({ params }: { params: Promise<{ registryId: string }> }) {
  const { registryId } = await params;
  return <RepositoriesView registryId={registryId} />;
}
