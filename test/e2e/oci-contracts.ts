// The OCI image manifest and ModelPack config schemas vendored in test/contracts/modelpack/, as checkers that return
// every problem found (none: the value passes).
import { readFile } from 'node:fs/promises';
import { Ajv, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

const CONTRACTS = new URL('../contracts/modelpack/', import.meta.url);
const readContract = async (name: string): Promise<Record<string, unknown>> => JSON.parse(await readFile(new URL(name, CONTRACTS), 'utf8'));

/** Draft-04 schemas for ajv 8: their `$schema` and `id` keywords dropped (see test/contracts/modelpack/README.md). */
function withoutDraft4Ids(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutDraft4Ids);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).filter(([key]) => key !== '$schema' && key !== 'id').map(([key, inner]) => [key, withoutDraft4Ids(inner)]));
}

const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv) => void;

export async function schemaCheckers(): Promise<{ manifest: (value: unknown) => string[]; config: (value: unknown) => string[] }> {
  const oci = new Ajv({ strict: false, allErrors: true });
  addFormats(oci);
  for (const name of ['content-descriptor.json', 'defs-descriptor.json', 'defs.json']) oci.addSchema(withoutDraft4Ids(await readContract(`oci-${name}`)) as object, name);
  const manifest = oci.compile(withoutDraft4Ids(await readContract('oci-image-manifest-schema.json')) as object);
  const modelpack = new Ajv2020({ strict: true, allErrors: true });
  addFormats(modelpack as unknown as Ajv);
  const config = modelpack.compile(await readContract('config-schema.json'));
  const errors = (validate: ValidateFunction) => (value: unknown) => (validate(value) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`));
  return { manifest: errors(manifest), config: errors(config) };
}
