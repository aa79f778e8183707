'use client';
// The jobs page's node filter: a search-as-you-type field (an ARIA combobox) asking the server for
// up to 20 matching names, instead of a dropdown that downloads every node of the fleet.
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useEffect, useId, useState, type KeyboardEvent } from 'react';
import { useDebounced } from '../../lib/use-debounced.ts';
import { useTRPC } from '../../trpc/react.ts';

const typingPauseMs = 200;

/** `nodeId` is the chosen node; choosing none (an empty field) means every node. */
export function NodeSearchField({ nodeId, onChange }: { nodeId: string | undefined; onChange(nodeId: string | undefined): void }) {
  const trpc = useTRPC();
  const id = useId();
  const [text, setText] = useState('');
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(-1);
  const query = useDebounced(text.trim(), typingPauseMs);
  const chosen = useQuery(trpc.nodes.search.queryOptions({ id: nodeId }, { enabled: Boolean(nodeId), staleTime: Infinity }));
  const matches = useQuery(trpc.nodes.search.queryOptions({ query }, { enabled: open, placeholderData: keepPreviousData }));
  const chosenName = nodeId ? chosen.data?.[0]?.name : undefined;

  // The field shows the chosen node's name once it is known (a linked view has only its id).
  useEffect(() => setText(chosenName ?? ''), [chosenName]);

  // While the answer for the latest keystrokes is on its way, the last one is narrowed to what still matches.
  const typed = text.trim().toLowerCase();
  const options = open ? (matches.data ?? []).filter((option) => option.name.toLowerCase().includes(typed)) : [];
  const listId = `${id}-list`;

  function choose(option: { id: string; name: string } | undefined) {
    setOpen(false);
    setActive(-1);
    setText(option?.name ?? '');
    if (option?.id !== nodeId) onChange(option?.id);
  }

  function onKeyDown(event: KeyboardEvent<HTMLInputElement>) {
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      if (!open) setOpen(true);
      const step = event.key === 'ArrowDown' ? 1 : -1;
      setActive((current) => (options.length === 0 ? -1 : (current + step + options.length) % options.length));
    } else if (event.key === 'Enter') {
      // The highlighted suggestion, else the one whose whole name was typed.
      const picked = options[active] ?? options.find((option) => option.name.toLowerCase() === typed);
      if (open && picked) {
        event.preventDefault();
        choose(picked);
      } else if (text.trim() === '' && nodeId) {
        event.preventDefault();
        choose(undefined);
      }
    } else if (event.key === 'Escape' && open) {
      event.preventDefault();
      setOpen(false);
      setActive(-1);
    }
  }

  return (
    <div className="field combobox">
      <label htmlFor={`${id}-input`} className="field-label">
        Node
      </label>
      <input
        id={`${id}-input`}
        name="node"
        role="combobox"
        aria-expanded={open && options.length > 0}
        aria-controls={listId}
        aria-autocomplete="list"
        aria-activedescendant={open && options[active] ? `${id}-option-${active}` : undefined}
        autoComplete="off"
        spellCheck={false}
        maxLength={100}
        placeholder="Every node · type a name"
        value={text}
        onChange={(e) => {
          setText(e.target.value);
          setOpen(true);
          setActive(-1);
        }}
        onFocus={() => setOpen(true)}
        onBlur={() => {
          setOpen(false);
          // Leaving the field empty clears the filter; leaving half a name keeps the chosen node.
          if (text.trim() === '' && nodeId) choose(undefined);
          else setText(chosenName ?? '');
        }}
        onKeyDown={onKeyDown}
      />
      <ul id={listId} role="listbox" aria-label="Nodes matching" className="combobox-list" hidden={!open || options.length === 0}>
        {options.map((option, index) => (
          <li
            key={option.id}
            id={`${id}-option-${index}`}
            role="option"
            aria-selected={index === active}
            className={index === active ? 'combobox-option combobox-option-active' : 'combobox-option'}
            // Chosen on mouse down: the input's blur would otherwise close the list first.
            onMouseDown={(e) => {
              e.preventDefault();
              choose(option);
            }}
          >
            {option.name}
          </li>
        ))}
      </ul>
    </div>
  );
}
