import { router } from '../../trpc.ts';
import { addTeamMemberProcedure } from './add-member.ts';
import { createTeamProcedure } from './create.ts';
import { deleteTeamProcedure } from './delete.ts';
import { listTeamsProcedure } from './list.ts';
import { removeTeamMemberProcedure } from './remove-member.ts';
import { renameTeamProcedure } from './rename.ts';
import { setTeamMemberRoleProcedure } from './set-member-role.ts';

/** Listing is for everyone signed in; every change is for admins. */
export const teamsRouter = router({
  list: listTeamsProcedure,
  create: createTeamProcedure,
  rename: renameTeamProcedure,
  delete: deleteTeamProcedure,
  addMember: addTeamMemberProcedure,
  setMemberRole: setTeamMemberRoleProcedure,
  removeMember: removeTeamMemberProcedure,
});
