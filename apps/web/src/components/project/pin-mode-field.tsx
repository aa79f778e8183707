'use client';
// Follow or freeze, each choice with the one line that says what it does (services/projects/pins.ts
// and the registry watcher: a follow pin moves with its tag, a frozen one keeps its digest and
// raises an alert when the tag moves).
import { useId } from 'react';

export type PinMode = 'follow' | 'frozen';

const modes: { value: PinMode; label: string; explanation: string }[] = [
  { value: 'follow', label: 'Follow the tag', explanation: 'When the tag moves to a new image, every node fetches the new one.' },
  { value: 'frozen', label: 'Freeze to this digest', explanation: 'Nodes keep exactly this image; if the tag moves, the project shows an alert and nothing changes.' },
];

export function PinModeField({ value, onChange }: { value: PinMode; onChange(mode: PinMode): void }) {
  const id = useId();
  return (
    <fieldset className="pin-mode">
      <legend className="field-label">Mode</legend>
      {modes.map((mode) => (
        <div key={mode.value} className="pin-mode-choice">
          <input
            id={`${id}-${mode.value}`}
            type="radio"
            name={`${id}-mode`}
            value={mode.value}
            checked={value === mode.value}
            onChange={() => onChange(mode.value)}
            aria-describedby={`${id}-${mode.value}-explanation`}
          />
          <span>
            <label className="strong" htmlFor={`${id}-${mode.value}`}>
              {mode.label}
            </label>
            <span id={`${id}-${mode.value}-explanation`} className="hint pin-mode-explanation">
              {mode.explanation}
            </span>
          </span>
        </div>
      ))}
    </fieldset>
  );
}
