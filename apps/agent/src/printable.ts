/** Text from the other side of a connection, fit for one log line: control characters become spaces, at most `max` characters. */
export function printable(text: string, max: number): string {
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    out += code < 0x20 || (code >= 0x7f && code <= 0x9f) ? ' ' : ch;
    if (out.length >= max) break;
  }
  return out.trim();
}
