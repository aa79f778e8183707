'use client';
// Which nodes a selector matches, while it is being typed: asked of the server a moment after
// typing stops, as a count and the first few names.
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useDebounced } from '../../lib/use-debounced.ts';
import { useTRPC } from '../../trpc/react.ts';

export function SelectorPreview({ id, selector }: { id: string; selector: string }) {
  const trpc = useTRPC();
  const settled = useDebounced(selector.trim(), 300);
  const preview = useQuery(trpc.projects.previewSelector.queryOptions({ nodeSelector: settled }, { placeholderData: keepPreviousData, retry: false }));

  let text: string;
  if (preview.error) text = preview.error.message;
  else if (!preview.data) text = 'Counting matching nodes…';
  else {
    const { matching, total, names } = preview.data;
    const more = matching - names.length;
    text =
      matching === 0
        ? `Matches none of the ${total} nodes yet.`
        : `Matches ${matching} of ${total} node${total === 1 ? '' : 's'}: ${names.join(', ')}${more > 0 ? ` and ${more} more` : ''}.`;
  }
  return (
    <p id={id} className={preview.error ? 'hint selector-preview selector-preview-error' : 'hint selector-preview'} aria-live="polite" data-selector-preview>
      {text}
    </p>
  );
}
