import Link from 'next/link';

export default function NotFound() {
  return (
    <main className="content">
      <h1>Not found</h1>
      <p>
        There is no page here. <Link href="/">Go to the overview</Link>
      </p>
    </main>
  );
}
