// A new fleet's first steps, ticked off by what exists (the server checks): connect a registry,
// publish or find an image, create a project, pin it. Shown until every step is done.
import Link from 'next/link';
import type { ReactNode } from 'react';
import type { RouterOutputs } from '../../trpc/react.ts';

type Checklist = RouterOutputs['fleet']['overview']['checklist'];

const steps: Record<Checklist['steps'][number]['step'], { title: string; hint: ReactNode; href: (c: Checklist) => string; action: string }> = {
  registry: { title: 'Connect a registry', hint: 'Where your macOS base images live.', href: () => '/registries', action: 'Add a registry' },
  image: { title: 'Publish or find an image', hint: <>Push one with <code>cider image push</code>, or browse what the registry holds.</>, href: () => '/images', action: 'Browse images' },
  project: { title: 'Create a project', hint: 'A team’s set of Macs, chosen by their labels.', href: () => '/projects', action: 'Create a project' },
  pin: { title: 'Pin an image to the project', hint: 'Every Mac the project serves then fetches it.', href: (c) => (c.firstProjectId ? `/projects/${c.firstProjectId}` : '/projects'), action: 'Pin an image' },
};

export function FirstRunChecklist({ checklist }: { checklist: Checklist }) {
  if (checklist.complete) return null;
  const done = checklist.steps.filter((s) => s.done).length;
  return (
    <section className="card checklist" aria-labelledby="checklist-title">
      <h2 id="checklist-title">Get started</h2>
      <p className="muted small">
        {done} of {checklist.steps.length} steps done. Each ticks itself off as you go.
      </p>
      <ol className="checklist-steps">
        {checklist.steps.map(({ step, done }) => {
          const s = steps[step];
          return (
            <li key={step} data-step={step} data-done={done ? 'true' : 'false'} className={done ? 'checklist-done' : undefined}>
              <span className="checklist-mark" aria-hidden="true">
                {done ? '✓' : ''}
              </span>
              <span>
                <strong>{s.title}</strong> <span className="checklist-state">{done ? '(done)' : '(to do)'}</span>
                <br />
                <span className="muted small">{s.hint}</span>
              </span>
              {done ? null : (
                <Link className="button" href={s.href(checklist)}>
                  {s.action}
                </Link>
              )}
            </li>
          );
        })}
      </ol>
    </section>
  );
}
