import { router } from '../../trpc.ts';
import { meProcedure } from './me.ts';
import { signInProcedure } from './sign-in.ts';
import { signOutProcedure } from './sign-out.ts';

export const authRouter = router({ signIn: signInProcedure, signOut: signOutProcedure, me: meProcedure });
