// States in words an admin uses. The protocol's names (`materializing`, `dispatched`) stay in the
// data, URLs and data-* attributes; only what a person reads changes.

const phases: Record<string, string> = {
  queued: 'Waiting to start',
  resolving: 'Finding the image',
  downloading: 'Downloading',
  materializing: 'Preparing for VMs',
  done: 'Done',
};

/** A pull's phase as reported live by the agent. */
export function phaseWords(phase: string): string {
  return phases[phase] ?? phase;
}

const jobStates: Record<string, string> = {
  queued: 'queued',
  dispatched: 'sent to node',
  pulling: 'downloading',
  cancelling: 'cancelling',
  done: 'done',
  failed: 'failed',
  cancelled: 'cancelled',
};

/** A sync job's state on its badge. */
export function jobStateWords(state: string): string {
  return jobStates[state] ?? state;
}

const targetTypes: Record<string, string> = {
  apiToken: 'API token',
  enrollmentToken: 'enrollment token',
  syncJob: 'sync job',
};

/** An audit event's target type (`apiToken`) as a reader says it. */
export function targetTypeWords(type: string): string {
  return targetTypes[type] ?? type;
}
