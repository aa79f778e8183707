// Liveness for load balancers and compose: the process answers. Nothing more (no versions, no
// database state): anyone can reach it.
export const dynamic = 'force-dynamic';

export function GET(): Response {
  return new Response('ok\n', { headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' } });
}
