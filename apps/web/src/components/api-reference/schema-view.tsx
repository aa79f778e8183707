// A JSON Schema (as zod writes it) shown as a nested field list: names, types, required, and
// descriptions; `$ref`s to components name the component and show its fields once, nested.
export interface JsonSchema {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  description?: string;
  format?: string;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  additionalProperties?: JsonSchema | boolean;
}

const componentPrefix = '#/components/schemas/';

function typeName(schema: JsonSchema, schemas: Record<string, JsonSchema>): string {
  if (schema.$ref) return schema.$ref.slice(componentPrefix.length);
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(' | ');
  const union = schema.anyOf ?? schema.oneOf;
  if (union) return union.map((s) => typeName(s, schemas)).join(' | ');
  if (schema.type === 'array' && schema.items) return `${typeName(schema.items, schemas)}[]`;
  const type = Array.isArray(schema.type) ? schema.type.join(' | ') : (schema.type ?? 'any');
  const bounds = schema.minimum !== undefined || schema.maximum !== undefined ? ` ${schema.minimum ?? ''}..${schema.maximum ?? ''}` : '';
  return `${type}${schema.format ? ` (${schema.format})` : ''}${bounds}`;
}

/** The object schema to list fields of, through refs, arrays and nullable unions. */
function fieldsOf(schema: JsonSchema, schemas: Record<string, JsonSchema>, seen: Set<string>): JsonSchema | undefined {
  if (schema.$ref) {
    const id = schema.$ref.slice(componentPrefix.length);
    if (seen.has(id)) return undefined;
    const target = schemas[id];
    return target ? fieldsOf(target, schemas, new Set([...seen, id])) : undefined;
  }
  if (schema.properties) return schema;
  if (schema.type === 'array' && schema.items) return fieldsOf(schema.items, schemas, seen);
  for (const part of schema.anyOf ?? schema.oneOf ?? []) {
    const found = fieldsOf(part, schemas, seen);
    if (found) return found;
  }
  return undefined;
}

export function SchemaView({ schema, schemas, inline = false, depth = 0 }: { schema: JsonSchema; schemas: Record<string, JsonSchema>; inline?: boolean; depth?: number }) {
  if (inline) return <code>{typeName(schema, schemas)}</code>;
  const object = depth < 4 ? fieldsOf(schema, schemas, new Set()) : undefined;
  if (!object?.properties) return <code>{typeName(schema, schemas)}</code>;
  const required = new Set(object.required ?? []);
  return (
    <>
      {depth === 0 && (schema.$ref || schema.type === 'array') ? (
        <p className="small">
          <code>{typeName(schema, schemas)}</code>
        </p>
      ) : null}
      <ul className="api-fields">
        {Object.entries(object.properties).map(([name, field]) => (
          <li key={name}>
            <code>{name}</code>
            {required.has(name) ? '' : '?'}: <code>{typeName(field, schemas)}</code>
            {field.default !== undefined ? <span className="muted"> (default {JSON.stringify(field.default)})</span> : null}
            {field.description ? <span className="muted"> — {field.description}</span> : null}
            {fieldsOf(field, schemas, new Set()) ? <SchemaView schema={field} schemas={schemas} depth={depth + 1} /> : null}
          </li>
        ))}
      </ul>
    </>
  );
}
