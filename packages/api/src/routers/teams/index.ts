import { authedProcedure, router } from '../../trpc.ts';

export const teamsRouter = router({
  list: authedProcedure.query(({ ctx }) => ctx.deps.db.team.findMany({ orderBy: { name: 'asc' }, select: { id: true, name: true } })),
});
