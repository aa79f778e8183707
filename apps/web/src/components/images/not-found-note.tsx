import Link from 'next/link';
import { PageHeader } from '../ui/page-header.tsx';

/** A registry, repository or image that isn't there (removed, mistyped URL). */
export function NotFoundNote({ what, detail, backHref = '/images', backLabel = 'Back to images' }: { what: string; detail?: string; backHref?: string; backLabel?: string }) {
  return (
    <>
      <PageHeader title={`No such ${what}`} />
      <p>
        {detail ?? `It may have been removed, or the address is mistyped.`} <Link href={backHref}>{backLabel}</Link>
      </p>
    </>
  );
}
