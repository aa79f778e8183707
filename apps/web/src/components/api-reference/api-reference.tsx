// The REST API reference: the OpenAPI document grouped by tag, each operation with its method,
// path, role rule, parameters, body and response schemas, and a curl example. Server-rendered
// from the document, so the page and /api/v1/openapi.json can't differ.
import { PageHeader } from '../ui/page-header.tsx';
import { SchemaView, type JsonSchema } from './schema-view.tsx';

interface Parameter {
  name: string;
  in: string;
  required: boolean;
  description?: string;
  schema: JsonSchema;
}

interface OperationObject {
  operationId: string;
  tags: string[];
  summary: string;
  description: string;
  parameters?: Parameter[];
  requestBody?: { content: { 'application/json': { schema: JsonSchema } } };
  responses: Record<string, { $ref?: string; description?: string; content?: { 'application/json': { schema: JsonSchema } } }>;
}

export interface OpenApiDocument {
  info: { title: string; version: string; description: string };
  tags: { name: string }[];
  paths: Record<string, Record<string, OperationObject>>;
  components: { schemas: Record<string, JsonSchema> };
}

function anchor(id: string): string {
  return `op-${id.replace(/[^a-zA-Z0-9]+/g, '-')}`;
}

/** A curl line per operation: token from the environment, a body from the schema's required fields. */
function curlOf(method: string, path: string, op: OperationObject): string {
  const url = `"$CIDER_SERVER/api/v1${path.replace(/\{(\w+)\}/g, (_m, name: string) => `<${name}>`)}"`;
  const parts = [`curl -sS${method === 'get' ? '' : ` -X ${method.toUpperCase()}`} ${url}`, '-H "Authorization: Bearer $CIDER_TOKEN"'];
  if (op.requestBody) {
    const schema = op.requestBody.content['application/json'].schema;
    const example = Object.fromEntries((schema.required ?? []).map((key) => [key, key === 'reference' ? 'registry.example.com/macos:15.2' : `<${key}>`]));
    parts.push("-H 'Content-Type: application/json'", `-d '${JSON.stringify(example)}'`);
  }
  return parts.join(' \\\n  ');
}

function Operation({ method, path, op, schemas }: { method: string; path: string; op: OperationObject; schemas: Record<string, JsonSchema> }) {
  const success = Object.entries(op.responses).find(([status]) => status.startsWith('2'));
  const errors = Object.keys(op.responses).filter((status) => !status.startsWith('2'));
  return (
    <article className="card api-op" id={anchor(op.operationId)} aria-labelledby={`${anchor(op.operationId)}-title`}>
      <h3 id={`${anchor(op.operationId)}-title`} className="api-op-title">
        <span className={`api-method api-method-${method}`}>{method.toUpperCase()}</span> <code>/api/v1{path}</code>
      </h3>
      <p>{op.summary}</p>
      <p className="muted small">
        <code>{op.operationId}</code> · {op.description}
      </p>
      {op.parameters?.length ? (
        <>
          <h4>Parameters</h4>
          <table className="api-params">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">In</th>
                <th scope="col">Type</th>
                <th scope="col">Description</th>
              </tr>
            </thead>
            <tbody>
              {op.parameters.map((p) => (
                <tr key={`${p.in}:${p.name}`}>
                  <td>
                    <code>{p.name}</code>
                    {p.required ? ' (required)' : ''}
                  </td>
                  <td>{p.in}</td>
                  <td>
                    <SchemaView schema={p.schema} schemas={schemas} inline />
                  </td>
                  <td>{p.description ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      ) : null}
      {op.requestBody ? (
        <>
          <h4>Body (JSON)</h4>
          <SchemaView schema={op.requestBody.content['application/json'].schema} schemas={schemas} />
        </>
      ) : null}
      <h4>Response {success?.[0]}</h4>
      {success?.[1].content ? <SchemaView schema={success[1].content['application/json'].schema} schemas={schemas} /> : <p className="muted small">No body.</p>}
      <p className="muted small">Errors: {errors.join(', ')}, as the Error shape below.</p>
      <h4>Example</h4>
      <pre className="api-curl" aria-label={`curl example for ${op.operationId}`}>
        <code>{curlOf(method, path, op)}</code>
      </pre>
    </article>
  );
}

export function ApiReference({ document }: { document: OpenApiDocument }) {
  const byTag = new Map<string, { method: string; path: string; op: OperationObject }[]>();
  for (const [path, methods] of Object.entries(document.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const list = byTag.get(op.tags[0] ?? 'Other') ?? [];
      list.push({ method, path, op });
      byTag.set(op.tags[0] ?? 'Other', list);
    }
  }
  const schemas = document.components.schemas;
  return (
    <>
      <PageHeader
        title="API reference"
        description={
          <>
            {document.info.description} The machine-readable document: <a className="text-link" href="/api/v1/openapi.json">/api/v1/openapi.json</a> (OpenAPI 3.1). Create a
            token under <a className="text-link" href="/settings#api-tokens">Settings → API tokens</a>.
          </>
        }
      />
      <nav aria-label="API sections" className="card">
        <ul className="api-toc">
          {document.tags.map((tag) => (
            <li key={tag.name}>
              <a href={`#tag-${tag.name}`}>{tag.name}</a>
            </li>
          ))}
          <li>
            <a href="#tag-errors">Errors</a>
          </li>
        </ul>
      </nav>
      {document.tags.map((tag) => (
        <section key={tag.name} id={`tag-${tag.name}`} aria-labelledby={`tag-${tag.name}-title`}>
          <h2 id={`tag-${tag.name}-title`}>{tag.name}</h2>
          {(byTag.get(tag.name) ?? []).map(({ method, path, op }) => (
            <Operation key={op.operationId} method={method} path={path} op={op} schemas={schemas} />
          ))}
        </section>
      ))}
      <section id="tag-errors" aria-labelledby="tag-errors-title" className="card">
        <h2 id="tag-errors-title">Errors</h2>
        {schemas.Error ? <SchemaView schema={schemas.Error} schemas={schemas} /> : null}
      </section>
    </>
  );
}
