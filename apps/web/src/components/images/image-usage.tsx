'use client';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useId, useState } from 'react';
import { formatBytes, shortDigest, timeAgo } from '../../lib/format.ts';
import { usePagedSearch } from '../../lib/use-debounced.ts';
import { useTRPC, type RouterOutputs } from '../../trpc/react.ts';
import { OrderSelect } from '../ui/order-select.tsx';
import { Pager } from '../ui/pager.tsx';
import { QueryState } from '../ui/query-state.tsx';
import { StatusBadge } from '../ui/status-badge.tsx';
import { Token } from '../ui/token.tsx';

type Detail = RouterOutputs['images']['detail'];

const pageSize = 50;

/** Nodes whose cache holds this digest (or, for an index, one of its manifests), a page at a time. */
/** The orders the holders list offers, as the server sorts them. */
const holderOrders = {
  name: { label: 'Node name, A to Z', query: { sort: 'name', direction: 'asc' } },
  'name-desc': { label: 'Node name, Z to A', query: { sort: 'name', direction: 'desc' } },
  verified: { label: 'Verified longest ago first', query: { sort: 'verified', direction: 'asc' } },
  used: { label: 'Used most recently first', query: { sort: 'used', direction: 'desc' } },
} as const;

export function HeldByTable({ detail }: { detail: Detail }) {
  const trpc = useTRPC();
  const id = useId();
  const { typed, setTyped, search, offset, setOffset } = usePagedSearch();
  const [order, setOrder] = useState<keyof typeof holderOrders>('name');
  const digests = [detail.digest, ...detail.platforms.map((p) => p.digest)];
  const holders = useQuery(trpc.images.holders.queryOptions({ digests, search: search || undefined, ...holderOrders[order].query, offset, limit: pageSize }, { placeholderData: keepPreviousData }));

  if (!holders.data) return <QueryState isPending={holders.isPending} error={holders.error} what="the nodes holding this image" />;
  if (holders.data.total === 0 && !search) return <p className="muted">No node holds this image yet. Pin it in a project and its nodes will fetch it.</p>;
  const showDigest = detail.kind === 'index';
  return (
    <>
      <div className="list-toolbar" role="search" aria-label="Find a node holding this image">
        <label className="field" htmlFor={`${id}-search`}>
          <span className="field-label">Node name</span>
          <input id={`${id}-search`} type="search" maxLength={100} placeholder="mac-01" value={typed} onChange={(e) => setTyped(e.target.value)} />
        </label>
        <OrderSelect
          id={`${id}-order`}
          orders={holderOrders}
          value={order}
          onChange={(next) => {
            setOrder(next);
            setOffset(0);
          }}
        />
      </div>
      {holders.data.rows.length === 0 ? (
        <p className="muted">No node holding this image matches that name.</p>
      ) : (
        <div className="table-scroll">
          <table className="table" aria-label="Nodes holding this image">
            <thead>
              <tr>
                <th scope="col">Node</th>
                <th scope="col">Status</th>
                {showDigest ? <th scope="col">Manifest</th> : null}
                <th scope="col" className="num">
                  Size
                </th>
                <th scope="col">Verified</th>
                <th scope="col">Last used</th>
              </tr>
            </thead>
            <tbody>
              {holders.data.rows.map((h) => (
                <tr key={`${h.nodeId} ${h.digest}`} data-node={h.nodeName}>
                  <td className="strong token-cell">
                    <Token value={h.nodeName} kind="name" href={`/nodes/${h.nodeId}`} />
                  </td>
                  <td>
                    <StatusBadge value={h.nodeStatus} />
                  </td>
                  {showDigest ? (
                    <td className="token-cell">
                      <Token value={h.digest} kind="digest" />
                    </td>
                  ) : null}
                  <td className="num">{formatBytes(h.size)}</td>
                  <td className="muted">{timeAgo(h.verifiedAt)}</td>
                  <td className="muted">{timeAgo(h.lastUsedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager offset={holders.data.offset} limit={pageSize} total={holders.data.total} what="nodes" onOffset={setOffset} />
    </>
  );
}

/** Pins using this digest, and pins on this tag that sit at another digest (frozen, or not yet moved). */
export function PinsUsingTable({ detail }: { detail: Detail }) {
  if (detail.pins.length === 0) return <p className="muted">No project pins this image.</p>;
  return (
    <table className="table">
      <thead>
        <tr>
          <th scope="col">Project</th>
          <th scope="col">Pin</th>
          <th scope="col">Mode</th>
          <th scope="col">Digest</th>
        </tr>
      </thead>
      <tbody>
        {detail.pins.map((pin) => (
          <tr key={pin.id} data-project={pin.projectName}>
            <td className="strong">
              <Link href={`/projects/${pin.projectId}`}>{pin.projectName}</Link>
            </td>
            <td className="token-cell">
              <Token value={pin.reference} kind="reference" />
            </td>
            <td>
              <StatusBadge value={pin.mode} label={pin.mode === 'follow' ? 'follows tag' : 'frozen'} />
            </td>
            <td>
              {pin.usesThis ? (
                <span className="text-ok">uses this image</span>
              ) : (
                <span className="badge badge-warn" title={pin.digest}>
                  at {shortDigest(pin.digest)}
                </span>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
