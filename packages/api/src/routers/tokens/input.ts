import { z } from 'zod';

/** Optional positive whole numbers from forms, where an empty field means "no limit". */
export const optionalCount = (what: string, max: number) =>
  z
    .number({ error: `${what} must be a number` })
    .int(`${what} must be a whole number`)
    .min(1, `${what} must be at least 1`)
    .max(max, `${what} can be at most ${max}`)
    .nullish();
