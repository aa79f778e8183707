// Where two schema descriptions (schema.prisma's and a migrated database's, see
// schema-agreement.ts) disagree, one sentence per difference naming the table and column, index,
// foreign key or enum, so a failing agreement test says what drifted instead of dumping two shapes.
import { isDeepStrictEqual } from 'node:util';
import type { ColumnShape, ForeignKeyShape, IndexShape, SchemaShape } from './schema-agreement.ts';

type Side = 'schema.prisma' | 'the database';

function keysOf(a: object | undefined, b: object | undefined): string[] {
  return [...new Set([...Object.keys(a ?? {}), ...Object.keys(b ?? {})])].sort();
}

function show(value: unknown): string {
  return JSON.stringify(value);
}

function columnDrift(name: string, expected: ColumnShape, actual: ColumnShape): string[] {
  const lines: string[] = [];
  if (expected.type !== actual.type) lines.push(`column ${name}: type ${expected.type} in schema.prisma, ${actual.type} in the database`);
  if (expected.nullable !== actual.nullable) {
    const says = (nullable: boolean) => (nullable ? 'nullable' : 'NOT NULL');
    lines.push(`column ${name}: ${says(expected.nullable)} in schema.prisma, ${says(actual.nullable)} in the database`);
  }
  if (expected.default !== actual.default) lines.push(`column ${name}: default ${show(expected.default)} in schema.prisma, ${show(actual.default)} in the database`);
  return lines;
}

function objectDrift<T extends IndexShape | ForeignKeyShape>(kind: string, table: string, expected: Record<string, T>, actual: Record<string, T>): string[] {
  const lines: string[] = [];
  for (const name of keysOf(expected, actual)) {
    const e = expected[name];
    const a = actual[name];
    if (!a) lines.push(`${kind} ${name} on ${table}: only in schema.prisma`);
    else if (!e) lines.push(`${kind} ${name} on ${table}: only in the database`);
    else if (!isDeepStrictEqual(e, a)) lines.push(`${kind} ${name} on ${table}: ${show(e)} in schema.prisma, ${show(a)} in the database`);
  }
  return lines;
}

/** Every difference between schema.prisma's description (`expected`) and the database's (`actual`); empty when they agree. */
export function schemaDrift(expected: SchemaShape, actual: SchemaShape): string[] {
  const lines: string[] = [];
  const onlyIn = (side: Side) => `only in ${side}`;
  for (const name of keysOf(expected.enums, actual.enums)) {
    const e = expected.enums[name];
    const a = actual.enums[name];
    if (!a) lines.push(`enum ${name}: ${onlyIn('schema.prisma')}`);
    else if (!e) lines.push(`enum ${name}: ${onlyIn('the database')}`);
    else if (!isDeepStrictEqual(e, a)) lines.push(`enum ${name}: values ${e.join(', ')} in schema.prisma, ${a.join(', ')} in the database`);
  }
  for (const table of keysOf(expected.tables, actual.tables)) {
    const e = expected.tables[table];
    const a = actual.tables[table];
    if (!a) {
      lines.push(`table ${table}: ${onlyIn('schema.prisma')}`);
      continue;
    }
    if (!e) {
      lines.push(`table ${table}: ${onlyIn('the database')}`);
      continue;
    }
    for (const column of keysOf(e.columns, a.columns)) {
      const ec = e.columns[column];
      const ac = a.columns[column];
      if (!ac) lines.push(`column ${table}.${column}: ${onlyIn('schema.prisma')}`);
      else if (!ec) lines.push(`column ${table}.${column}: ${onlyIn('the database')}`);
      else lines.push(...columnDrift(`${table}.${column}`, ec, ac));
    }
    lines.push(...objectDrift('index', table, e.indexes, a.indexes), ...objectDrift('foreign key', table, e.foreignKeys, a.foreignKeys));
  }
  return lines;
}
