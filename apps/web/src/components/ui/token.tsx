// References, digests and node names in tables: one line, never broken mid-token. A long value is
// shortened where it says least (a digest keeps `sha256:` and 12 hex characters; a reference keeps
// its host's start and its repository and tag), the whole value is in the tooltip, and a copy
// button copies the whole value, not what is shown.
import Link from 'next/link';
import { shortDigest } from '../../lib/format.ts';
import { CopyButton } from '../images/copy-button.tsx';

export type TokenKind = 'digest' | 'reference' | 'name';

/** Longest reference shown whole; longer ones lose their middle. */
const referenceChars = 44;

/** `127.0.0.1:5000/team/very/long/path/macos:15.2` → `127.0.0…/long/path/macos:15.2`: the tag end matters most. */
export function middleEllipsis(value: string, max: number): string {
  if (value.length <= max) return value;
  const head = Math.floor((max - 1) / 3);
  return `${value.slice(0, head)}…${value.slice(value.length - (max - 1 - head))}`;
}

function shown(value: string, kind: TokenKind): string {
  if (kind === 'digest') return shortDigest(value);
  if (kind === 'reference') return middleEllipsis(value, referenceChars);
  return value;
}

const copyWord: Record<TokenKind, string> = { digest: 'digest', reference: 'reference', name: 'name' };

export function Token({ value, kind, href, copy = kind !== 'name' }: { value: string; kind: TokenKind; href?: string; copy?: boolean }) {
  const text = kind === 'name' ? <span className="token-text">{value}</span> : <code className="token-text">{shown(value, kind)}</code>;
  return (
    <span className={`token token-${kind}`} title={value} data-token={value}>
      {href ? <Link href={href}>{text}</Link> : text}
      {copy ? <CopyButton value={value} label={`Copy ${copyWord[kind]} ${value}`} /> : null}
    </span>
  );
}
