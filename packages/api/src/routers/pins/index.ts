import { router } from '../../trpc.ts';
import { removePinProcedure } from './remove.ts';
import { setPinProcedure } from './set.ts';

export const pinsRouter = router({ set: setPinProcedure, remove: removePinProcedure });
