// One shape for every `cider fleet` action: the global options read once, a client for the
// server and token in effect, and any error printed cleanly with its documented exit code.
import type { Command } from 'commander';
import type { FleetClient } from '../../fleet/client.ts';
import { fleetClientFor, type FleetOptions } from '../../fleet/config.ts';
import { failFleet } from '../../fleet/errors.ts';

export interface FleetContext {
  json: boolean;
  options: FleetOptions;
  client(): Promise<FleetClient>;
  /** The command's result on stdout: the API's JSON with --json, the text otherwise. */
  print(value: unknown, text: string): void;
}

export function fleetAction<Args extends unknown[]>(run: (ctx: FleetContext, ...args: Args) => Promise<void>) {
  return async (...args: unknown[]): Promise<void> => {
    const command = args.at(-1) as Command;
    const options = command.optsWithGlobals<FleetOptions>();
    const json = options.json === true;
    const ctx: FleetContext = {
      json,
      options,
      client: () => fleetClientFor(options),
      print: (value, text) => process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${text}\n`),
    };
    try {
      await run(ctx, ...(args.slice(0, -1) as Args));
    } catch (error) {
      failFleet(error, json);
    }
  };
}
