import Link from 'next/link';
import { connection } from 'next/server';

// Rendered per request, like every other page, so its scripts carry the request's CSP nonce.
export default async function NotFound() {
  await connection();
  return (
    <main className="content">
      <h1>Not found</h1>
      <p>
        There is no page here. <Link href="/">Go to the overview</Link>
      </p>
    </main>
  );
}
