import { DockerConfigCredentials, isOciError, OciError, RegistryClient, type RegistryClientOptions } from '@cider/oci';

export interface GlobalOptions {
  plainHttp?: boolean;
  json?: boolean;
}

/** A client using the credentials `cider login` (or `docker login`) stored; `extra` may replace them. */
export function clientFor(options: GlobalOptions, extra: Partial<RegistryClientOptions> = {}): RegistryClient {
  return new RegistryClient({ plainHttp: options.plainHttp === true, credentials: new DockerConfigCredentials(), ...extra });
}

/** Prints a clean error (never a stack) and exits: 2 for bad input, 1 otherwise. */
export function fail(error: unknown, json = false): never {
  const message = error instanceof Error ? error.message : String(error);
  const code = isOciError(error) ? error.code : 'ERROR';
  if (json) process.stdout.write(`${JSON.stringify({ error: { code, message } })}\n`);
  else process.stderr.write(`cider: ${message}\n`);
  process.exit(isOciError(error, 'INVALID_REFERENCE') || isOciError(error, 'INVALID_DIGEST') || isOciError(error, 'INVALID_IMAGE') ? 2 : 1);
}

export function output(json: boolean, value: unknown, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${text}\n`);
}

/** `--annotation key=value` options as a map. */
export function parseAnnotations(values: string[]): Record<string, string> {
  const result: Record<string, string> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    if (eq < 1) throw new OciError('INVALID_MANIFEST', `--annotation ${value}: use key=value`);
    result[value.slice(0, eq)] = value.slice(eq + 1);
  }
  return result;
}
