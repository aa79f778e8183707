// Job filters as the URL and the filter form share them (no 'use client': the page reads them too).
export const stateOptions = ['unfinished', 'queued', 'dispatched', 'pulling', 'cancelling', 'done', 'failed', 'cancelled'] as const;
export type StateOption = (typeof stateOptions)[number];

export interface JobFilterValues {
  state?: StateOption;
  nodeId?: string;
  digest?: string;
}

export function isStateOption(value: string | undefined): value is StateOption {
  return stateOptions.includes(value as StateOption);
}
