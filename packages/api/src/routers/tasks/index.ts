// Server tasks: admins start "Publish from Apple" and bundle exports, watch them and cancel them.
// Procedures delegate to services/tasks; the work runs in the control plane.
import { z } from 'zod';
import { adminProcedure, router } from '../../trpc.ts';
import { appleCatalog, appleImageSize } from '../../services/tasks/apple-catalog.ts';
import { serverTaskKinds } from '../../services/tasks/states.ts';
import { startBundleExport, startPublishFromApple } from '../../services/tasks/start.ts';
import { cancelTask, getTask, listTasks } from '../../services/tasks/tasks.ts';
import { bundleFileName } from '../../services/tasks/project-bundle.ts';

const id = z.string().uuid();

export const tasksRouter = router({
  /** Newest first; pass `nextCursor` back as `cursor`. */
  list: adminProcedure
    .input(z.object({ kind: z.enum(serverTaskKinds).optional(), projectId: z.string().uuid().optional(), cursor: z.string().max(100).nullish(), limit: z.number().int().min(1).max(100).default(20) }))
    .query(({ ctx, input }) => listTasks(ctx.deps, { ...input, cursor: input.cursor ?? undefined })),
  get: adminProcedure.input(z.object({ taskId: id })).query(({ ctx, input }) => getTask(ctx.deps, input.taskId)),
  cancel: adminProcedure.input(z.object({ taskId: id })).mutation(({ ctx, input }) => cancelTask(ctx.deps, ctx.actor, input.taskId)),
  /** What Apple's catalog (or CIDER_APPLE_CATALOG_URL) offers, newest first; cached a few minutes. */
  appleCatalog: adminProcedure.query(({ ctx }) => appleCatalog(ctx.deps)),
  /** The size of one catalog image, asked of its URL by the server; `error` says why there is none. */
  appleImageSize: adminProcedure.input(z.object({ build: z.string().trim().min(1).max(32) })).query(({ ctx, input }) => appleImageSize(ctx.deps, input.build)),
  publishFromApple: adminProcedure
    .input(
      z.object({
        build: z.string().trim().min(1, 'Choose a version').max(32),
        registryId: z.string().uuid('Choose a registry'),
        repository: z.string().trim().min(1, 'Name the repository').max(255),
        tags: z.array(z.string().trim().max(128)).max(10).optional(),
      }),
    )
    .mutation(({ ctx, input }) => startPublishFromApple(ctx.deps, ctx.actor, input)),
  /** Whether bundles can be written on the server (CIDER_BUNDLE_DIR), and a suggested file name. */
  bundleOptions: adminProcedure.input(z.object({ projectName: z.string().max(200) })).query(({ ctx, input }) => {
    const dir = ctx.deps.tasks?.bundleDir ?? null;
    return { bundleDir: dir, suggestedName: bundleFileName(input.projectName) };
  }),
  exportBundle: adminProcedure
    .input(z.object({ projectId: id, path: z.string().trim().min(1, 'Name the file to write').max(4096) }))
    .mutation(({ ctx, input }) => startBundleExport(ctx.deps, ctx.actor, input)),
});
