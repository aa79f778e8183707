import Link from 'next/link';
import { formatBytes, shortDigest } from '../../lib/format.ts';
import type { RouterOutputs } from '../../trpc/react.ts';
import { digestHref } from './image-paths.ts';
import { mediaKind } from './media-kind.ts';

type Detail = RouterOutputs['images']['detail'];

/** An index's manifests, one per platform, each opening its own page. */
export function PlatformTable({ registryId, detail }: { registryId: string; detail: Detail }) {
  if (detail.platforms.length === 0) return <p className="muted">This index lists no manifests.</p>;
  return (
    <>
      <table className="table">
        <thead>
          <tr>
            <th scope="col">Platform</th>
            <th scope="col">Manifest</th>
            <th scope="col">Artifact type</th>
            <th scope="col" className="num">
              Size
            </th>
          </tr>
        </thead>
        <tbody>
          {detail.platforms.map((p) => {
            const platform = p.os || p.architecture ? [p.os ?? '?', p.architecture ?? '?', p.variant].filter(Boolean).join('/') : 'unspecified';
            return (
              <tr key={p.digest} data-platform={platform}>
                <td className="strong">
                  {platform}
                  {p.osVersion ? <div className="muted small">{p.osVersion}</div> : null}
                  {p.title ? <div className="muted small">{p.title}</div> : null}
                </td>
                <td>
                  <Link href={digestHref(registryId, detail.repository, p.digest)} aria-label={`Manifest for ${platform}`}>
                    <code title={p.digest}>{shortDigest(p.digest)}</code>
                  </Link>
                  <div className="muted small">{mediaKind(p.mediaType)}</div>
                </td>
                <td>{p.artifactType ? <span title={p.artifactType}>{mediaKind(p.artifactType)}</span> : <span className="muted">—</span>}</td>
                <td className="num">{formatBytes(p.totalSize ?? p.manifestSize)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {detail.morePlatforms > 0 ? <p className="muted small">{detail.morePlatforms} more manifests are not shown.</p> : null}
    </>
  );
}
