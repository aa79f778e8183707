'use client';
import { useState } from 'react';
import { useIsAdmin } from '../shell/session-user.tsx';
import { PageHeader } from '../ui/page-header.tsx';
import { AuditFilters, type AuditFilterValues } from './audit-filters.tsx';
import { AuditTable } from './audit-table.tsx';

export function AuditView() {
  const isAdmin = useIsAdmin();
  const [filters, setFilters] = useState<AuditFilterValues>({});
  if (!isAdmin) {
    return (
      <>
        <PageHeader title="Audit log" />
        <p className="muted">Only admins can read the audit log.</p>
      </>
    );
  }
  return (
    <>
      <PageHeader title="Audit log" description="Every change to pins, registries, projects, nodes, users, teams and tokens: who, what, when, before and after." />
      <section className="card">
        <AuditFilters onApply={setFilters} />
      </section>
      <section className="card">
        <AuditTable filters={filters} />
      </section>
    </>
  );
}
