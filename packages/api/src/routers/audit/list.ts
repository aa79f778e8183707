import { z } from 'zod';
import { adminProcedure } from '../../trpc.ts';
import { listAuditEvents, maxAuditPage } from '../../services/audit/log.ts';

export const listAuditInput = z.object({
  targetType: z.string().trim().max(100).optional(),
  actor: z.string().trim().max(320).optional(),
  action: z.string().trim().max(100).optional(),
  from: z.date().optional(),
  to: z.date().optional(),
  /** `nextCursor` of the previous page. */
  cursor: z.string().max(40).nullish(),
  limit: z.number().int().min(1).max(maxAuditPage).default(50),
});

/** Newest first; each event with who, what, when, and the redacted before/after. */
export const listAuditProcedure = adminProcedure
  .input(listAuditInput)
  .query(({ ctx, input }) => listAuditEvents(ctx.deps, { ...input, cursor: input.cursor ?? undefined }));
