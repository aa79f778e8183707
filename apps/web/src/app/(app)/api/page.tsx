import type { Metadata } from 'next';
import { buildOpenApiDocument } from '@cider/api/rest';
import { ApiReference, type OpenApiDocument } from '../../../components/api-reference/api-reference.tsx';

export const metadata: Metadata = { title: 'API reference' };

// The same document /api/v1/openapi.json serves (one builder, from the contract), rendered here
// with our own components: nothing is loaded from elsewhere.
export default function ApiReferencePage() {
  return <ApiReference document={buildOpenApiDocument({ serverUrl: '/api/v1' }) as unknown as OpenApiDocument} />;
}
