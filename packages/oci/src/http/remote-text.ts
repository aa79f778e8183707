// Text a registry chose (error bodies, error codes, header values, realms) ends up in messages
// that people read in a terminal, a log or the dashboard. A hostile registry could put terminal
// escape sequences in it (rewriting what the terminal shows), forge log lines with CR/LF, hide
// text with bidirectional overrides, or send megabytes. `printable` keeps it short and plain.

// CSI and OSC escape sequences (ECMA-48), then any other escape.
// eslint-disable-next-line no-control-regex
const escapeSequences = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|\u001b[@-_]?/g;
// C0 and C1 controls, DEL, and the invisible format characters that reorder or hide text.
// eslint-disable-next-line no-control-regex
const invisible = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/g;

/** `text` without escape sequences or control characters, whitespace collapsed, at most `max` characters. */
export function printable(text: string, max = 200): string {
  const clean = text.slice(0, max * 4).replace(escapeSequences, '').replace(invisible, ' ').replace(/\s+/g, ' ').trim();
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}

/** A distribution-spec error code (`MANIFEST_UNKNOWN`) as registries send it: anything else is shown as UNKNOWN. */
export function errorCodeOf(value: unknown): string {
  const code = typeof value === 'string' ? value : String(value ?? '');
  return /^[A-Za-z0-9_.-]{1,64}$/.test(code) ? code : 'UNKNOWN';
}
