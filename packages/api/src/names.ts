// Name length limits, shared by the input schemas (which refuse a longer name with this message)
// and the dashboard's forms (whose counters state the limit): pure, so client code may import it.

/** The longest names of each kind of object. */
export const nameLimits = { project: 63, team: 63, registry: 100, node: 100 } as const;

/** The refusal for a name longer than `max`: said, never cut. */
export function tooLong(kind: string, max: number): string {
  return `${kind[0]!.toUpperCase()}${kind.slice(1)} names are at most ${max} characters.`;
}
