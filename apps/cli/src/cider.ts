#!/usr/bin/env node
// cider: the command line for Cider Fleet images (the same library the agent uses).
import { enableMemoryRelief } from '@cider/oci';
import { Command } from 'commander';
import { registerBundle } from './commands/bundle.ts';
import { registerCache } from './commands/cache.ts';
import { registerFleet } from './commands/fleet/index.ts';
import { registerImage } from './commands/image.ts';
import { registerInspect } from './commands/inspect.ts';
import { registerLogin } from './commands/login.ts';
import { registerLogout } from './commands/logout.ts';
import { registerPull } from './commands/pull.ts';
import { registerPush } from './commands/push.ts';
import { registerTags } from './commands/tags.ts';

// Large downloads keep memory flat (see @cider/oci memory.ts).
enableMemoryRelief();

const program = new Command('cider')
  .description('Publish, inspect and pull macOS base images in any OCI registry')
  .option('--plain-http', 'use plain HTTP for registries that are not on localhost/127.0.0.1')
  .option('--json', 'machine-readable output on stdout')
  .showHelpAfterError();

registerPull(program);
registerPush(program);
registerImage(program);
registerBundle(program);
registerTags(program);
registerInspect(program);
registerLogin(program);
registerLogout(program);
registerCache(program);
registerFleet(program);

await program.parseAsync();
