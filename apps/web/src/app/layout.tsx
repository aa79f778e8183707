import '@fontsource-variable/inter';
import '../styles/base.css';
import '../styles/layout.css';
import '../styles/surfaces.css';
import '../styles/forms.css';
import '../styles/status.css';
import '../styles/images.css';
import '../styles/settings.css';
import '../styles/distribution.css';
import '../styles/pickers.css';
import '../styles/tables.css';
import '../styles/overview.css';
import '../styles/lists.css';
import '../styles/lifecycle.css';
import '../styles/api-reference.css';
import type { Metadata } from 'next';
import type { ReactNode } from 'react';
import { TrpcQueryProvider } from '../trpc/provider.tsx';

export const metadata: Metadata = {
  title: { default: 'Cider Fleet', template: '%s · Cider Fleet' },
  description: "Keep every Mac's macOS base images exactly as declared.",
};

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <TrpcQueryProvider>{children}</TrpcQueryProvider>
      </body>
    </html>
  );
}
