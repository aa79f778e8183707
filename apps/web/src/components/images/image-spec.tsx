import { formatBytes } from '../../lib/format.ts';
import type { RouterOutputs } from '../../trpc/react.ts';
import { CopyButton } from './copy-button.tsx';
import { exactBytes, formatDateTime } from './format.ts';
import { mediaKind } from './media-kind.ts';
import { SpecSheet, type SpecItem } from './spec-sheet.tsx';

type Detail = RouterOutputs['images']['detail'];

/** What the image is: Cider's config fields (or an OCI config's platform) as a spec sheet. */
export function ImageSpec({ detail }: { detail: Detail }) {
  const cider = detail.cider;
  if (cider) {
    const items: SpecItem[] = [
      { field: 'os', label: 'Operating system', value: cider.os },
      { field: 'version', label: 'Version', value: cider.version },
      { field: 'build', label: 'Build', value: cider.build },
      { field: 'architecture', label: 'Architecture', value: cider.architecture },
      { field: 'payload', label: 'Payload', value: cider.payload?.name ? <code>{cider.payload.name}</code> : null, wide: true },
      { field: 'payload-size', label: 'Payload size', value: cider.payload?.size !== null && cider.payload?.size !== undefined ? formatBytes(cider.payload.size) : null },
      { field: 'devices', label: 'Supported devices', value: cider.devices.length ? cider.devices.join(', ') : null },
      { field: 'image-created', label: 'Created', value: cider.created ? <time dateTime={cider.created}>{formatDateTime(cider.created)}</time> : null },
    ];
    if (cider.files.length > 1) {
      items.push({ field: 'files', label: `Files (${cider.files.length + cider.moreFiles})`, wide: true, value: <ConfigFiles cider={cider} /> });
    }
    return <SpecSheet items={items} label="Image" />;
  }
  if (detail.platform) {
    return (
      <SpecSheet
        label="Image"
        items={[
          { field: 'os', label: 'Operating system', value: detail.platform.os },
          { field: 'architecture', label: 'Architecture', value: detail.platform.architecture },
          { field: 'version', label: 'Version', value: detail.annotations.version },
        ]}
      />
    );
  }
  if (detail.kind === 'index') {
    return <p className="muted">An index: one manifest per platform, listed below.</p>;
  }
  return <p className="muted">Not a Cider image: its config ({mediaKind(detail.config?.mediaType ?? 'none')}) carries no OS fields we read.</p>;
}

type CiderConfig = NonNullable<Detail['cider']>;

/** The payload files an image carries (when more than one), as the config lists them. */
function ConfigFiles({ cider }: { cider: CiderConfig }) {
  return (
    <ul className="file-list">
      {cider.files.map((file, i) => {
        const kind = file.kind ?? (file.mediaType ? mediaKind(file.mediaType) : null);
        return (
          <li key={`${i}-${file.name ?? ''}`} data-file={file.name ?? ''}>
            {file.name ? <code>{file.name}</code> : <span className="muted">unnamed file {i + 1}</span>}
            {kind ? <span className="muted" title={file.mediaType ?? undefined}> · {kind}</span> : null}
            {file.size !== null ? <span title={exactBytes(file.size)}> · {formatBytes(file.size)}</span> : null}
            {file.parts > 1 ? <span className="muted"> · {file.parts} parts</span> : null}
          </li>
        );
      })}
      {cider.moreFiles > 0 ? <li className="muted">{cider.moreFiles} more files</li> : null}
    </ul>
  );
}

/** How it is stored: digest, types, sizes, annotations. */
export function ManifestSpec({ detail }: { detail: Detail }) {
  const items: SpecItem[] = [
    {
      field: 'digest',
      label: 'Digest',
      wide: true,
      value: (
        <span className="digest-line">
          <code>{detail.digest}</code> <CopyButton value={detail.digest} label="Copy digest" />
        </span>
      ),
    },
    { field: 'media-type', label: 'Media type', value: <span title={detail.mediaType}>{mediaKind(detail.mediaType)}</span> },
    { field: 'artifact-type', label: 'Artifact type', value: detail.artifactType ? <span title={detail.artifactType}>{mediaKind(detail.artifactType)}</span> : null },
    {
      field: 'total-size',
      label: 'Total size',
      value:
        detail.totalSize !== null ? (
          <span title={exactBytes(detail.totalSize)}>{formatBytes(detail.totalSize)}</span>
        ) : detail.kind === 'index' ? (
          <span className="muted">per platform, below</span>
        ) : null,
    },
    { field: 'manifest-size', label: 'Manifest size', value: <span title={exactBytes(detail.manifestSize)}>{formatBytes(detail.manifestSize)}</span> },
    { field: 'created', label: 'Created', value: detail.annotations.created ? formatDateTime(detail.annotations.created) : null },
    { field: 'annotation-version', label: 'Version annotation', value: detail.annotations.version },
    { field: 'title', label: 'Title', value: detail.annotations.title, wide: true },
  ];
  if (detail.annotations.description) items.push({ field: 'description', label: 'Description', value: detail.annotations.description, wide: true });
  if (detail.annotations.source) items.push({ field: 'source', label: 'Source', value: <code>{detail.annotations.source}</code>, wide: true });
  if (detail.config) {
    items.push({
      field: 'config',
      label: 'Config',
      wide: true,
      value: (
        <>
          <span title={detail.config.mediaType}>{mediaKind(detail.config.mediaType)}</span> · {formatBytes(detail.config.size)} · <code title={detail.config.digest}>{detail.config.digest}</code>
        </>
      ),
    });
  }
  if (detail.subject) items.push({ field: 'subject', label: 'Refers to', value: <code>{detail.subject}</code>, wide: true });
  return <SpecSheet items={items} label="Manifest" />;
}
