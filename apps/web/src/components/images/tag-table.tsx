'use client';
import Link from 'next/link';
import { shortDigest } from '../../lib/format.ts';
import type { RouterOutputs } from '../../trpc/react.ts';
import { StatusBadge } from '../ui/status-badge.tsx';
import { Token } from '../ui/token.tsx';
import { tagHref } from './image-paths.ts';
import { mediaKind } from './media-kind.ts';

type Tags = RouterOutputs['images']['tags'];

export function TagTable({ registryId, data }: { registryId: string; data: Tags }) {
  if (data.tags.length === 0) return <p className="muted">This repository has no tags.</p>;
  return (
    <>
      <table className="table">
        <thead>
          <tr>
            <th scope="col">Tag</th>
            <th scope="col">Digest</th>
            <th scope="col">Kind</th>
            <th scope="col">Pinned by</th>
            <th scope="col" className="num">
              Nodes holding
            </th>
          </tr>
        </thead>
        <tbody>
          {data.tags.map((tag) => (
            <tr key={tag.name} data-tag={tag.name}>
              <td className="strong">
                <Link href={tagHref(registryId, data.repository, tag.name)} aria-label={`Tag ${tag.name}`}>
                  {tag.name}
                </Link>
              </td>
              <td className="token-cell">{tag.digest ? <Token value={tag.digest} kind="digest" /> : <span className="muted">open the tag</span>}</td>
              <td>{tag.mediaType ? mediaKind(tag.mediaType) : <span className="muted">—</span>}</td>
              <td>
                {tag.pins.length === 0 ? (
                  <span className="muted">—</span>
                ) : (
                  <ul className="plain-list">
                    {tag.pins.map((pin) => (
                      <li key={pin.id}>
                        <Link href={`/projects/${pin.projectId}`}>{pin.projectName}</Link> <StatusBadge value={pin.mode} />
                        {pin.current ? null : (
                          <span className="badge badge-warn" title={pin.digest}>
                            at {shortDigest(pin.digest)}
                          </span>
                        )}
                      </li>
                    ))}
                  </ul>
                )}
              </td>
              <td className="num">{tag.nodes || <span className="muted">0</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {data.truncated ? <p className="muted small">Digests are shown for the first 100 tags; open a tag for the rest.</p> : null}
    </>
  );
}
