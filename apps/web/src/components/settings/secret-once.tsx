'use client';
import { useId, useState } from 'react';

/**
 * A secret the server returns exactly once (a token): shown in a read-only field with a copy
 * button, plus an optional ready-to-paste command line.
 */
export function SecretOnce({ title, label, secret, command, commandHint }: { title: string; label: string; secret: string; command?: string; commandHint?: string }) {
  const id = useId();
  const [copied, setCopied] = useState<string>();

  async function copy(what: string, text: string) {
    try {
      await navigator.clipboard.writeText(text);
      setCopied(what);
    } catch {
      // Clipboard access needs a secure context; the field stays selectable by hand.
      setCopied(undefined);
    }
  }

  return (
    <div className="secret-once" role="status">
      <p className="strong">{title}</p>
      <p className="small">Copy it now: it is stored only as a hash and won&apos;t be shown again.</p>
      <div className="secret-row">
        <label htmlFor={`${id}-secret`} className="field-label">
          {label}
        </label>
        <input id={`${id}-secret`} readOnly spellCheck={false} value={secret} onFocus={(e) => e.currentTarget.select()} />
        <button type="button" className="button button-small" aria-label={`Copy ${label.toLowerCase()}`} onClick={() => void copy(label, secret)}>
          {copied === label ? 'Copied' : 'Copy'}
        </button>
      </div>
      {command ? (
        <div className="secret-row">
          <label htmlFor={`${id}-command`} className="field-label">
            Command
          </label>
          <input id={`${id}-command`} readOnly spellCheck={false} value={command} aria-describedby={commandHint ? `${id}-command-hint` : undefined} onFocus={(e) => e.currentTarget.select()} />
          <button type="button" className="button button-small" aria-label="Copy command" onClick={() => void copy('command', command)}>
            {copied === 'command' ? 'Copied' : 'Copy'}
          </button>
          {commandHint ? (
            <span id={`${id}-command-hint`} className="hint secret-hint">
              {commandHint}
            </span>
          ) : null}
        </div>
      ) : null}
    </div>
  );
}
