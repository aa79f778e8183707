// A server task's states, in one place for the events schema, the services and the dashboard.
// queued -> running -> succeeded | failed | cancelled; queued -> cancelled. Nothing leaves an end state.
export const serverTaskStates = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type ServerTaskStateName = (typeof serverTaskStates)[number];

export const serverTaskKinds = ['publish-apple', 'bundle-export'] as const;
export type ServerTaskKindName = (typeof serverTaskKinds)[number];

export function isTaskFinished(state: ServerTaskStateName): boolean {
  return state === 'succeeded' || state === 'failed' || state === 'cancelled';
}

/** What a task left running by a control process that stopped says (it never resumes by itself). */
export const interruptedMessage = 'Interrupted: the control plane stopped while this task ran; start it again.';
