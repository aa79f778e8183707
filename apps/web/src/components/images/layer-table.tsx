import { formatBytes } from '../../lib/format.ts';
import type { RouterOutputs } from '../../trpc/react.ts';
import { exactBytes } from './format.ts';
import { mediaKind } from './media-kind.ts';
import { DataTable } from '../ui/data-table.tsx';
import { Token } from '../ui/token.tsx';

type Layer = RouterOutputs['images']['detail']['layers'][number];

export function LayerTable({ layers }: { layers: Layer[] }) {
  if (layers.length === 0) return <p className="muted">No layers.</p>;
  return (
    <DataTable
      rows={layers}
      rowKey={(layer, i) => `${i}-${layer.digest}`}
      columns={[
        { header: 'File', cell: (layer, i) => (layer.title ? <code>{layer.title}</code> : <span className="muted">untitled layer {i + 1}</span>) },
        { header: 'Media type', cell: (layer) => mediaKind(layer.mediaType), title: (layer) => layer.mediaType },
        { header: 'Size', kind: 'num', cell: (layer) => formatBytes(layer.size), title: (layer) => exactBytes(layer.size) },
        { header: 'Digest', cell: (layer) => <Token value={layer.digest} kind="digest" /> },
      ]}
    />
  );
}
