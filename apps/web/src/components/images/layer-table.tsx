import { formatBytes, shortDigest } from '../../lib/format.ts';
import type { RouterOutputs } from '../../trpc/react.ts';
import { exactBytes } from './format.ts';
import { mediaKind } from './media-kind.ts';

type Layer = RouterOutputs['images']['detail']['layers'][number];

export function LayerTable({ layers }: { layers: Layer[] }) {
  if (layers.length === 0) return <p className="muted">No layers.</p>;
  return (
    <table className="table">
      <thead>
        <tr>
          <th scope="col">File</th>
          <th scope="col">Media type</th>
          <th scope="col" className="num">
            Size
          </th>
          <th scope="col">Digest</th>
        </tr>
      </thead>
      <tbody>
        {layers.map((layer, i) => (
          <tr key={`${i}-${layer.digest}`}>
            <td>{layer.title ? <code>{layer.title}</code> : <span className="muted">untitled layer {i + 1}</span>}</td>
            <td title={layer.mediaType}>{mediaKind(layer.mediaType)}</td>
            <td className="num" title={exactBytes(layer.size)}>
              {formatBytes(layer.size)}
            </td>
            <td>
              <code title={layer.digest}>{shortDigest(layer.digest)}</code>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
