import Link from 'next/link';
import { formatBytes, timeAgo } from '../../lib/format.ts';
import type { RouterOutputs } from '../../trpc/react.ts';
import { formatDateTime } from '../images/format.ts';
import { Token } from '../ui/token.tsx';

type Node = RouterOutputs['nodes']['get'];
type PinnedBy = Node['images'][number]['pinnedBy'];

/** Agents report `registry/repo:tag@digest`; the digest has its own column. */
function withoutDigest(reference: string, digest: string): string {
  return reference.endsWith(`@${digest}`) ? reference.slice(0, -digest.length - 1) : reference;
}

function Pinners({ pinnedBy }: { pinnedBy: PinnedBy }) {
  return (
    <ul className="plain-list small">
      {pinnedBy.map((p) => (
        <li key={`${p.projectId} ${p.reference}`}>
          <Link href={`/projects/${p.projectId}`}>{p.projectName}</Link> <span className="muted">({p.mode})</span>
        </li>
      ))}
    </ul>
  );
}

/** What the node's cache holds, pinned or not, and what its projects pin that it lacks. */
export function NodeImages({ node }: { node: Node }) {
  return (
    <>
      {node.images.length === 0 ? (
        <p className="muted">The cache holds no images yet.</p>
      ) : (
        <div className="table-scroll">
          <table className="table" aria-label="Images in the cache">
            <thead>
              <tr>
                <th scope="col">Image</th>
                <th scope="col">Digest</th>
                <th scope="col" className="num">
                  Size
                </th>
                <th scope="col">Verified</th>
                <th scope="col">Last used</th>
                <th scope="col">Pinned</th>
              </tr>
            </thead>
            <tbody>
              {node.images.map((image) => (
                <tr key={image.digest} data-digest={image.digest}>
                  <td className="token-cell">{image.reference ? <Token value={withoutDigest(image.reference, image.digest)} kind="reference" /> : <span className="muted">no tag</span>}</td>
                  <td className="token-cell">
                    <Token value={image.digest} kind="digest" />
                  </td>
                  <td className="num">{formatBytes(image.size)}</td>
                  <td className="muted" title={formatDateTime(image.verifiedAt)}>
                    {timeAgo(image.verifiedAt)}
                  </td>
                  <td className="muted">{image.lastUsedAt ? timeAgo(image.lastUsedAt) : 'never'}</td>
                  <td>
                    {image.pinned ? (
                      <>
                        <span className="badge badge-ok">pinned</span>
                        <Pinners pinnedBy={image.pinnedBy} />
                      </>
                    ) : (
                      <span className="badge badge-muted" title="No project this node serves pins it: the agent may evict it when space runs short.">
                        unpinned
                      </span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {node.missing.length > 0 ? (
        <div className="subsection">
          <h3>Pinned, not held yet</h3>
          <ul className="plain-list">
            {node.missing.map((m) => (
              <li key={m.digest} data-missing={m.digest}>
                <Token value={m.digest} kind="digest" /> {m.pinnedBy[0] ? <Token value={m.pinnedBy[0].reference} kind="reference" copy={false} /> : null}
                <Pinners pinnedBy={m.pinnedBy} />
              </li>
            ))}
          </ul>
        </div>
      ) : null}
    </>
  );
}
