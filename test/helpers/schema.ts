/**
 * The schema oracle: the image-spec's own JSON Schemas (draft-04), read from
 * outside the repository ($OCI_SCHEMA_DIR, else ../shared/oci-image-spec-schema
 * beside the clone) and never copied into it. Tests check that documents we
 * accept or write also satisfy the schemas the spec publishes.
 *
 * The schemas only check structure: not digest lengths, not `data` against
 * `digest`, not the artifactType rule, and they allow negative sizes. Tests of
 * those rules must use the spec text, not this oracle.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv04Module from 'ajv-draft-04';
import { describe } from 'vitest';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DEFAULT_DIR = path.resolve(REPO_ROOT, '../shared/oci-image-spec-schema');

const FILES = {
  manifest: 'image-manifest-schema.json',
  index: 'image-index-schema.json',
  config: 'config-schema.json',
  layout: 'image-layout-schema.json',
  descriptor: 'content-descriptor.json',
} as const;

const ALL_FILES = [...Object.values(FILES), 'defs.json', 'defs-descriptor.json'];

export type SchemaKind = keyof typeof FILES;

/** The directory holding the seven schema files, or undefined when it is absent. */
export function schemaDir(): string | undefined {
  const dir = process.env['OCI_SCHEMA_DIR'] ? path.resolve(process.env['OCI_SCHEMA_DIR']) : DEFAULT_DIR;
  return ALL_FILES.every((f) => existsSync(path.join(dir, f))) ? dir : undefined;
}

export const schemaAvailable: boolean = schemaDir() !== undefined;

export const schemaSkipReason = `skipped: OCI image-spec JSON Schemas not found in ${
  process.env['OCI_SCHEMA_DIR'] ? `$OCI_SCHEMA_DIR (${process.env['OCI_SCHEMA_DIR']})` : DEFAULT_DIR
}; set OCI_SCHEMA_DIR to a directory holding the schema/*.json files of opencontainers/image-spec v1.1.1`;

/**
 * `describe` that runs only when the schemas are present, and says why when
 * they are not (vitest itself prints no reason for a skipped suite).
 */
export function describeWithSchema(name: string, fn: () => void): void {
  if (!schemaAvailable) console.warn(`${name}: ${schemaSkipReason}`);
  describe.skipIf(!schemaAvailable)(name, fn);
}

/**
 * The schemas carry draft-04 `id`s (some nested) that move the base URI of
 * their relative `$ref`s to opencontainers.org URLs no file is published at;
 * upstream resolves those with a custom loader. Dropping the `id` keywords (in
 * memory; the files stay untouched) and registering each file under its name
 * makes every `$ref` resolve to the file it names. Property *names* such as a
 * field called "id" are left alone.
 */
function withoutIds(schema: unknown, isNameMap = false): unknown {
  if (Array.isArray(schema)) return schema.map((s) => withoutIds(s));
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) {
    if (!isNameMap && k === 'id' && typeof v === 'string') continue;
    const childIsNameMap = !isNameMap && (k === 'properties' || k === 'patternProperties' || k === 'definitions');
    out[k] = withoutIds(v, childIsNameMap);
  }
  return out;
}

// Minimal format checks; ajv-formats is not a dependency. date-time is RFC 3339,
// uri an absolute URI (RFC 3986 requires a scheme).
const DATE_TIME = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt ]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$/;
const URI = /^[A-Za-z][A-Za-z0-9+.-]*:[^\s]*$/;

type Validator = ((doc: unknown) => boolean) & { errors?: Array<{ instancePath: string; message?: string }> | null };

let validators: Map<SchemaKind, Validator> | undefined;

function load(): Map<SchemaKind, Validator> {
  if (validators) return validators;
  const dir = schemaDir();
  if (!dir) throw new Error(schemaSkipReason);
  // A CommonJS module: depending on the loader the class is the default export or its `default` property.
  type Ajv04Class = typeof import('ajv-draft-04').default;
  const Ajv04 = ((Ajv04Module as unknown as { default?: Ajv04Class }).default ?? Ajv04Module) as Ajv04Class;
  // strict: false because the schemas use the non-validating `media` keyword.
  const ajv = new Ajv04({ strict: false, allErrors: true });
  ajv.addFormat('date-time', DATE_TIME);
  ajv.addFormat('uri', URI);
  for (const file of ALL_FILES) {
    ajv.addSchema(withoutIds(JSON.parse(readFileSync(path.join(dir, file), 'utf8'))) as object, file);
  }
  validators = new Map();
  for (const [kind, file] of Object.entries(FILES) as Array<[SchemaKind, string]>) {
    const v = ajv.getSchema(file);
    if (!v) throw new Error(`schema ${file} did not compile`);
    validators.set(kind, v as Validator);
  }
  return validators;
}

/** Errors of `doc` against the schema for `kind`, one string each; empty means valid. */
export function validateAgainstSchema(kind: SchemaKind, doc: unknown): string[] {
  const v = load().get(kind)!;
  if (v(doc)) return [];
  return (v.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
}
