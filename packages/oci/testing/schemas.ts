// Validators built from the official image-spec JSON schemas (test/oci-schemas, draft-04).
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Ajv from 'ajv-draft-04';

const schemaDir = fileURLToPath(new URL('../test/oci-schemas/', import.meta.url));

let ajv: Ajv | undefined;
const base = 'https://opencontainers.org/schema/image/';

/**
 * The schemas refer to each other by file name relative to their `id`s, which do not share one
 * base URL. Drop the nested `id` labels and give every file an id under one base, so each
 * relative `$ref` resolves to the file of that name, as the image-spec's own Go validator does.
 */
function rebase(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(rebase);
  if (typeof node !== 'object' || node === null) return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'id' && typeof value === 'string' && value.startsWith('https://opencontainers.org/')) continue;
    out[key] = rebase(value);
  }
  return out;
}

function validatorSet(): Ajv {
  if (ajv) return ajv;
  ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });
  for (const file of readdirSync(schemaDir).filter((f) => f.endsWith('.json'))) {
    const schema = rebase(JSON.parse(readFileSync(`${schemaDir}${file}`, 'utf8'))) as Record<string, unknown>;
    ajv.addSchema({ ...schema, id: `${base}${file}` });
  }
  return ajv;
}

export type OciSchema = 'manifest' | 'index' | 'layout' | 'config' | 'descriptor';

const files: Record<OciSchema, string> = {
  manifest: 'image-manifest-schema.json',
  index: 'image-index-schema.json',
  layout: 'image-layout-schema.json',
  config: 'config-schema.json',
  descriptor: 'content-descriptor.json',
};

/** Returns the schema errors for a document (empty when valid). */
export function schemaErrors(schema: OciSchema, document: unknown): string[] {
  const validate = validatorSet().getSchema(`${base}${files[schema]}`);
  if (!validate) throw new Error(`schema ${files[schema]} did not load`);
  if (validate(document)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
}

/** Throws with every problem listed when the document is not valid against the schema. */
export function assertValidOci(schema: OciSchema, document: unknown): void {
  const errors = schemaErrors(schema, typeof document === 'string' || Buffer.isBuffer(document) ? JSON.parse(document.toString()) : document);
  if (errors.length > 0) throw new Error(`Not a valid OCI ${schema}:\n  ${errors.join('\n  ')}`);
}
