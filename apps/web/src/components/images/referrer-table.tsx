import Link from 'next/link';
import { formatBytes, shortDigest } from '../../lib/format.ts';
import type { RouterOutputs } from '../../trpc/react.ts';
import { exactBytes, formatDateTime } from './format.ts';
import { digestHref } from './image-paths.ts';
import { mediaKind } from './media-kind.ts';
import { DataTable } from '../ui/data-table.tsx';

type Detail = RouterOutputs['images']['detail'];

/** Signatures, SBOMs, release notes: manifests whose subject is this image, each opening its own page. */
export function ReferrerTable({ registryId, detail }: { registryId: string; detail: Detail }) {
  return (
    <>
      {detail.referrers.length === 0 ? (
        <p className="muted">
          No signatures, SBOMs or release notes are attached. Attach one with <code>cider image attach &lt;ref&gt; &lt;file&gt; --artifact-type &lt;type&gt;</code>.
        </p>
      ) : (
        <DataTable
          rows={detail.referrers}
          rowKey={(r) => r.digest}
          rowAttributes={(r) => ({ 'data-referrer': r.digest })}
          columns={[
            { header: 'Artifact type', kind: 'strong', cell: (r) => mediaKind(r.artifactType ?? r.mediaType), title: (r) => r.artifactType ?? r.mediaType },
            {
              header: 'Title',
              cell: (r) => (
                <>
                  {r.annotations.title ?? <span className="muted">—</span>}
                  {r.annotations.description ? <div className="muted small">{r.annotations.description}</div> : null}
                </>
              ),
            },
            { header: 'Created', cell: (r) => (r.annotations.created ? <time dateTime={r.annotations.created}>{formatDateTime(r.annotations.created)}</time> : <span className="muted">—</span>) },
            { header: 'Size', kind: 'num', cell: (r) => formatBytes(r.size), title: (r) => exactBytes(r.size) },
            {
              header: 'Digest',
              cell: (r) => (
                <Link href={digestHref(registryId, detail.repository, r.digest)} aria-label={`Referrer ${r.annotations.title ?? shortDigest(r.digest)}`}>
                  <code title={r.digest}>{shortDigest(r.digest)}</code>
                </Link>
              ),
            },
          ]}
        />
      )}
      {detail.referrersNote ? <p className="muted small">{detail.referrersNote}</p> : null}
    </>
  );
}
