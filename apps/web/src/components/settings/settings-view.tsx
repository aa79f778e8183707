'use client';
import { useIsAdmin } from '../shell/session-user.tsx';
import { PageHeader } from '../ui/page-header.tsx';
import { ApiTokensSection } from './api-tokens-section.tsx';
import { EnrollmentTokensSection } from './enrollment-tokens-section.tsx';
import { TeamsSection } from './teams-section.tsx';
import { UsersSection } from './users-section.tsx';

const adminSections = [
  { id: 'users', label: 'Users' },
  { id: 'teams', label: 'Teams' },
  { id: 'enrollment-tokens', label: 'Enrollment tokens' },
  { id: 'api-tokens', label: 'API tokens' },
] as const;

/** Admins manage people, teams and tokens here; everyone else manages only their own API tokens. */
export function SettingsView() {
  const isAdmin = useIsAdmin();
  if (!isAdmin) {
    return (
      <>
        <PageHeader title="Settings" description="Your API tokens. Users, teams and enrollment tokens are managed by admins." />
        <ApiTokensSection />
      </>
    );
  }
  return (
    <>
      <PageHeader title="Settings" description="People, teams, and the tokens that let Macs and scripts in." />
      <nav aria-label="Settings sections" className="section-nav">
        {adminSections.map((s) => (
          <a key={s.id} href={`#${s.id}`} className="section-nav-link">
            {s.label}
          </a>
        ))}
      </nav>
      <UsersSection />
      <TeamsSection />
      <EnrollmentTokensSection />
      <ApiTokensSection />
    </>
  );
}
