// Names of projects, teams, registries and nodes are unique regardless of case: the columns are
// citext (migration 20261205000000), so "iOS CI" and "ios ci" cannot both exist and a lookup by
// name finds either. One wording for "that name is taken", naming the clash as it is spelled.
import { AppError } from '../errors.ts';

export function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'P2002';
}

/** The refusal for `wanted` when `existing` (found case-insensitively) already holds the name. */
export function nameTaken(kind: string, wanted: string, existing: string | undefined): AppError {
  if (!existing || existing === wanted) return new AppError('CONFLICT', `A ${kind} named "${wanted}" already exists.`);
  return new AppError('CONFLICT', `A ${kind} named "${existing}" already exists; names ignore case, so "${wanted}" is taken too.`);
}
