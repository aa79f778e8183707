'use client';
// A text field with a length limit stated beside it ("12 / 63") and counted as you type. It has no
// maxLength: a browser would cut pasted text silently; over the limit the field says so in words
// (not only in colour) and the server refuses the name with the same limit.
import { useId, type InputHTMLAttributes } from 'react';

export interface CountedFieldProps extends Omit<InputHTMLAttributes<HTMLInputElement>, 'value' | 'onChange' | 'maxLength'> {
  label: string;
  value: string;
  onChange(value: string): void;
  /** The most characters the server accepts (see @cider/api/names). */
  max: number;
  /** Says what the field holds in the refusal, e.g. "Project names". */
  what?: string;
  className?: string;
}

export function CountedField({ label, value, onChange, max, what = 'Names', className = 'field', ...input }: CountedFieldProps) {
  const id = useId();
  const length = value.trim().length;
  const over = length > max;
  return (
    // The counter sits outside the <label>, so the field's accessible name is the label alone.
    <div className={className}>
      <label className="field-label" htmlFor={id}>
        {label}
      </label>
      <input {...input} id={id} value={value} aria-invalid={over || undefined} aria-describedby={`${id}-count`} onChange={(e) => onChange(e.target.value)} />
      <span id={`${id}-count`} className={over ? 'field-counter field-counter-over' : 'field-counter'} data-field="counter">
        {length} / {max}
        {over ? (
          <span role="alert">
            {' '}
            — too long: {what} are at most {max} characters.
          </span>
        ) : null}
      </span>
    </div>
  );
}
