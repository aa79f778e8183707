// A repository (its tags) or one of its tags or digests: /images/<registry>/<repository>[/-/tags/<tag> | /-/digests/<digest>].
import type { Metadata } from 'next';
import { ImageDetailView } from '../../../../../components/images/image-detail-view.tsx';
import { parseImageRoute } from '../../../../../components/images/image-paths.ts';
import { NotFoundNote } from '../../../../../components/images/not-found-note.tsx';
import { RepositoryView } from '../../../../../components/images/repository-view.tsx';

type Params = Promise<{ registryId: string; repository: string[] }>;

export async function generateMetadata({ params }: { params: Params }): Promise<Metadata> {
  const route = parseImageRoute((await params).repository);
  if (!route) return { title: 'Images' };
  return { title: route.reference ? `${route.repository}${route.byDigest ? '@' : ':'}${route.reference}` : route.repository };
}

export default async function RepositoryPage({ params }: { params: Params }) {
  const { registryId, repository } = await params;
  const route = parseImageRoute(repository);
  if (!route) return <NotFoundNote what="image page" />;
  if (route.reference === undefined) return <RepositoryView registryId={registryId} repository={route.repository} />;
  return <ImageDetailView registryId={registryId} repository={route.repository} reference={route.reference} />;
}
