import Link from 'next/link';
import { formatBytes, shortDigest } from '../../lib/format.ts';
import type { RouterOutputs } from '../../trpc/react.ts';
import { exactBytes, formatDateTime } from './format.ts';
import { digestHref } from './image-paths.ts';
import { mediaKind } from './media-kind.ts';

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
        <table className="table">
          <thead>
            <tr>
              <th scope="col">Artifact type</th>
              <th scope="col">Title</th>
              <th scope="col">Created</th>
              <th scope="col" className="num">
                Size
              </th>
              <th scope="col">Digest</th>
            </tr>
          </thead>
          <tbody>
            {detail.referrers.map((r) => {
              const type = r.artifactType ?? r.mediaType;
              return (
                <tr key={r.digest} data-referrer={r.digest}>
                  <td className="strong" title={type}>
                    {mediaKind(type)}
                  </td>
                  <td>
                    {r.annotations.title ?? <span className="muted">—</span>}
                    {r.annotations.description ? <div className="muted small">{r.annotations.description}</div> : null}
                  </td>
                  <td>{r.annotations.created ? <time dateTime={r.annotations.created}>{formatDateTime(r.annotations.created)}</time> : <span className="muted">—</span>}</td>
                  <td className="num" title={exactBytes(r.size)}>
                    {formatBytes(r.size)}
                  </td>
                  <td>
                    <Link href={digestHref(registryId, detail.repository, r.digest)} aria-label={`Referrer ${r.annotations.title ?? shortDigest(r.digest)}`}>
                      <code title={r.digest}>{shortDigest(r.digest)}</code>
                    </Link>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {detail.referrersNote ? <p className="muted small">{detail.referrersNote}</p> : null}
    </>
  );
}
