import { router } from '../../trpc.ts';
import { cancelJobProcedure } from './cancel.ts';
import { getJobProcedure } from './get.ts';
import { listJobsProcedure } from './list.ts';
import { retryJobProcedure } from './retry.ts';

export const jobsRouter = router({ list: listJobsProcedure, get: getJobProcedure, retry: retryJobProcedure, cancel: cancelJobProcedure });
