// Where `cider-agent enroll` takes its enrollment token from. On the command line (--token) it
// shows in `ps` and in shell history to anyone on the Mac, so stdin (--token - or --token-stdin)
// and a file (--token-file) are offered too.
import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';

export interface TokenSources {
  token?: string;
  tokenStdin?: boolean;
  tokenFile?: string;
}

/** Tokens are short; anything longer is not one (and is not read further). */
const maxTokenBytes = 4096;

async function readStream(stream: Readable): Promise<string> {
  let text = '';
  for await (const chunk of stream) {
    text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
    if (text.length > maxTokenBytes) throw new Error(`The enrollment token on stdin is longer than ${maxTokenBytes} bytes; it is not a token.`);
  }
  return text;
}

/** The token from exactly one of the sources, trimmed; a clear error otherwise. */
export async function readEnrollmentToken(sources: TokenSources, stdin: Readable = process.stdin): Promise<string> {
  const fromStdin = sources.tokenStdin || sources.token === '-';
  const given = [sources.token !== undefined && sources.token !== '-', fromStdin, sources.tokenFile !== undefined].filter(Boolean).length;
  if (given === 0) throw new Error('Give the enrollment token with --token-file <path>, --token-stdin (or --token -), or --token <token>.');
  if (given > 1) throw new Error('Give the enrollment token one way only: --token, --token-stdin or --token-file.');
  let token: string;
  if (fromStdin) token = await readStream(stdin);
  else if (sources.tokenFile !== undefined) {
    const text = await readFile(sources.tokenFile, 'utf8').catch((error: NodeJS.ErrnoException) => {
      throw new Error(`Cannot read the enrollment token file ${sources.tokenFile}: ${error.code ?? error.message}`);
    });
    if (text.length > maxTokenBytes) throw new Error(`${sources.tokenFile} is longer than ${maxTokenBytes} bytes; it is not a token.`);
    token = text;
  } else token = sources.token!;
  token = token.trim();
  if (!token) throw new Error('The enrollment token is empty.');
  if (/\s/.test(token)) throw new Error('The enrollment token has spaces or several lines in it; give only the token.');
  return token;
}
