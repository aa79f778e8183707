'use client';
import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { shortDigest } from '../../lib/format.ts';
import { useTRPC } from '../../trpc/react.ts';
import { PageHeader } from '../ui/page-header.tsx';
import { QueryState } from '../ui/query-state.tsx';
import { Breadcrumbs } from './breadcrumbs.tsx';
import { CopyButton } from './copy-button.tsx';
import { registryHref, repositoryHref } from './image-paths.ts';
import { HeldByTable, PinsUsingTable } from './image-usage.tsx';
import { ImageSpec, ManifestSpec } from './image-spec.tsx';
import { LayerTable } from './layer-table.tsx';
import { NotFoundNote } from './not-found-note.tsx';
import { PinToProject } from './pin-to-project.tsx';
import { PlatformTable } from './platform-table.tsx';
import { ReferrerTable } from './referrer-table.tsx';
import { SpecSheet } from './spec-sheet.tsx';

const knownAnnotations = new Set(['title', 'version', 'created', 'description', 'source'].map((k) => `org.opencontainers.image.${k}`));

/** One tag or digest, laid out as a spec sheet, with where it is held and who pins it. */
export function ImageDetailView({ registryId, repository, reference }: { registryId: string; repository: string; reference: string }) {
  const trpc = useTRPC();
  const query = useQuery(trpc.images.detail.queryOptions({ registryId, repository, reference }));
  const byDigest = reference.includes(':');
  const label = byDigest ? shortDigest(reference) : reference;
  const code = query.error?.data?.code;
  if (code === 'NOT_FOUND' || code === 'BAD_REQUEST') {
    return <NotFoundNote what={byDigest ? 'manifest' : 'tag'} detail={query.error?.message} backHref={repositoryHref(registryId, repository)} backLabel={`Back to ${repository}`} />;
  }
  const detail = query.data;
  const crumbs = [
    { label: 'Images', href: '/images' },
    { label: detail?.registry.name ?? 'Registry', href: registryHref(registryId) },
    { label: repository, href: repositoryHref(registryId, repository) },
    { label },
  ];
  if (!detail) {
    return (
      <>
        <Breadcrumbs crumbs={crumbs} />
        <PageHeader title={`${repository}${byDigest ? '@' : ':'}${label}`} />
        <QueryState isPending={query.isPending} error={query.error} what="the image" />
      </>
    );
  }
  const otherAnnotations = Object.entries(detail.allAnnotations).filter(([key]) => !knownAnnotations.has(key));
  return (
    <>
      <Breadcrumbs crumbs={crumbs} />
      <PageHeader
        title={`${repository}${byDigest ? '@' : ':'}${label}`}
        description={
          <>
            {detail.annotations.title ? <span className="strong">{detail.annotations.title} · </span> : null}
            <code>{detail.reference}</code> <CopyButton value={detail.reference} label="Copy reference" />
          </>
        }
      >
        {detail.tag ? <PinToProject reference={detail.reference} /> : null}
        <Link className="button" href={`/jobs?digest=${encodeURIComponent(detail.digest)}`}>
          Sync jobs for this digest
        </Link>
      </PageHeader>
      <div className="detail-grid">
        <section className="card" aria-labelledby="image-spec-title">
          <h2 id="image-spec-title">
            Image {detail.cider ? <span className="badge badge-info">Cider image</span> : detail.kind === 'index' ? <span className="badge badge-muted">index</span> : null}
          </h2>
          <ImageSpec detail={detail} />
        </section>
        <section className="card" aria-labelledby="manifest-spec-title">
          <h2 id="manifest-spec-title">Manifest</h2>
          <ManifestSpec detail={detail} />
          {detail.configNote ? <p className="muted small">{detail.configNote}</p> : null}
        </section>
      </div>
      {detail.kind === 'index' ? (
        <section className="card">
          <h2>Platforms</h2>
          <PlatformTable registryId={registryId} detail={detail} />
        </section>
      ) : (
        <section className="card">
          <h2>Layers</h2>
          <LayerTable layers={detail.layers} />
        </section>
      )}
      <section className="card">
        <h2>On nodes</h2>
        <HeldByTable detail={detail} />
      </section>
      <section className="card">
        <h2>Pins</h2>
        <PinsUsingTable detail={detail} />
      </section>
      {otherAnnotations.length > 0 ? (
        <section className="card">
          <h2>Other annotations</h2>
          <SpecSheet label="Other annotations" items={otherAnnotations.map(([key, value]) => ({ field: key, label: key, value: <code>{value}</code>, wide: true }))} />
        </section>
      ) : null}
      <section className="card" aria-labelledby="referrers-title">
        <h2 id="referrers-title">Referrers</h2>
        <ReferrerTable registryId={registryId} detail={detail} />
      </section>
    </>
  );
}
