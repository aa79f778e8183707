import { createCallerFactory, router } from './trpc.ts';
import { authRouter } from './routers/auth/index.ts';
import { eventsRouter } from './routers/events/index.ts';
import { fleetRouter } from './routers/fleet/index.ts';
import { nodesRouter } from './routers/nodes/index.ts';
import { pinsRouter } from './routers/pins/index.ts';
import { projectsRouter } from './routers/projects/index.ts';
import { registriesRouter } from './routers/registries/index.ts';
import { teamsRouter } from './routers/teams/index.ts';
import { imagesRouter } from './routers/images/index.ts';
import { jobsRouter } from './routers/jobs/index.ts';
import { usersRouter } from './routers/users/index.ts';
import { tokensRouter } from './routers/tokens/index.ts';
import { auditRouter } from './routers/audit/index.ts';
import { trendsRouter } from './routers/trends/index.ts';
import { tasksRouter } from './routers/tasks/index.ts';

export const appRouter = router({
  auth: authRouter,
  registries: registriesRouter,
  teams: teamsRouter,
  projects: projectsRouter,
  pins: pinsRouter,
  nodes: nodesRouter,
  fleet: fleetRouter,
  events: eventsRouter,
  images: imagesRouter,
  jobs: jobsRouter,
  users: usersRouter,
  tokens: tokensRouter,
  audit: auditRouter,
  trends: trendsRouter,
  tasks: tasksRouter,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);
