'use client';
import { EnrollmentTokenForm } from './enrollment-token-form.tsx';
import { EnrollmentTokenTable } from './enrollment-token-table.tsx';

export function EnrollmentTokensSection() {
  return (
    <section className="card" id="enrollment-tokens" aria-labelledby="enrollment-tokens-title">
      <h2 id="enrollment-tokens-title">Enrollment tokens</h2>
      <p className="muted small">A new Mac joins the fleet with an enrollment token, then holds a secret of its own. Revoking a token stops new enrollments only.</p>
      <EnrollmentTokenTable />
      <EnrollmentTokenForm />
    </section>
  );
}
