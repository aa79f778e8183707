// "12 / 63" under a project name field, so a long name is refused with a reason rather than cut.
// (The lifecycle work brings a field-with-counter for every form; this is the projects' own until then.)

/** The server's limit (services/projects/projects.ts projectNameMax). */
export const projectNameMax = 63;

export function NameCounter({ id, value, max }: { id: string; value: string; max: number }) {
  const length = value.trim().length;
  return (
    <span id={id} className={length > max ? 'hint name-counter name-counter-over' : 'hint name-counter'}>
      {length} / {max} characters{length > max ? ` — ${length - max} too many` : ''}
    </span>
  );
}
