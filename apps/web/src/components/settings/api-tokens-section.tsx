'use client';
import { ApiTokenForm } from './api-token-form.tsx';
import { ApiTokenTable } from './api-token-table.tsx';

export function ApiTokensSection() {
  return (
    <section className="card" id="api-tokens" aria-labelledby="api-tokens-title">
      <h2 id="api-tokens-title">API tokens</h2>
      <p className="muted small">
        Scripts and CI call the API as you with <code>Authorization: Bearer &lt;token&gt;</code>, with your role and teams. Revoke a token the moment it
        may have leaked. What the API offers: the <a className="text-link" href="/api">API reference</a>.
      </p>
      <ApiTokenTable />
      <ApiTokenForm />
    </section>
  );
}
