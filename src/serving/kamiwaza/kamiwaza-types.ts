// The slices of Kamiwaza's 1.2.0 schemas (openapi.json components) that aim reads, as valibot schemas: every reply
// is checked against them before use, so a server (or something posing as one) that answers another shape gets a
// plain error instead of steering aim. Field names and nullability are the contract's; unknown fields are allowed,
// as the contract lets servers add them. Ids are UUIDs because aim puts them into request paths.
import * as v from 'valibot';

const MAX_TEXT = 4096;
/** Far beyond any real install; a longer list is an attack on memory or time, not a listing. */
const MAX_ITEMS = 100_000;

const uuid = v.pipe(v.string(), v.uuid());
const text = v.pipe(v.string(), v.maxLength(MAX_TEXT));
const nullable = <T extends v.GenericSchema>(schema: T) => v.nullish(schema);
const list = <T extends v.GenericSchema>(item: T) => v.pipe(v.array(item), v.maxLength(MAX_ITEMS));

export const KzModelFileSchema = v.looseObject({
  id: nullable(uuid),
  name: text,
  size: nullable(v.pipe(v.number(), v.integer(), v.minValue(0))),
  storage_type: nullable(text),
  storage_location: nullable(text),
  download: nullable(v.boolean()),
  is_downloading: nullable(v.boolean()),
});

export const KzModelSchema = v.looseObject({
  id: nullable(uuid),
  name: text,
  repo_modelId: nullable(text),
  m_files: v.optional(list(KzModelFileSchema)),
});

export const KzConfigSchema = v.looseObject({ id: uuid, m_id: uuid, default: v.boolean() });

export const KzDownloadStatusSchema = v.looseObject({
  id: uuid,
  m_id: uuid,
  name: text,
  is_downloading: v.boolean(),
  download_percentage: nullable(v.pipe(v.number(), v.minValue(0), v.maxValue(100))),
});

export const KzDeploymentSchema = v.looseObject({
  id: uuid,
  m_id: uuid,
  m_name: nullable(text),
  status: v.optional(v.pipe(v.string(), v.maxLength(64))),
  lb_port: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(65535))),
  access_path: nullable(text),
  canonical_model_id: nullable(text),
  last_error_code: nullable(text),
  last_error_message: nullable(text),
  requested_at: text,
  runtime_env: nullable(v.pipe(v.record(v.pipe(v.string(), v.maxLength(256)), nullable(text)), v.check((env) => Object.keys(env).length <= 1000, 'has too many entries'))),
});

export const KzUserSchema = v.looseObject({ username: text, sub: text });
/** Servers before 1.2 answer `false` instead of an error when they refuse; 1.2 answers the new deployment's id. */
export const KzDeployReplySchema = v.union([uuid, v.boolean()]);
export const KzDownloadReplySchema = v.looseObject({ result: v.optional(v.boolean()), message: v.optional(text) });
export const KzDeleteReplySchema = v.unknown();

export const KzModelListSchema = list(KzModelSchema);
export const KzModelFileListSchema = list(KzModelFileSchema);
export const KzConfigListSchema = list(KzConfigSchema);
export const KzDownloadStatusListSchema = list(KzDownloadStatusSchema);
export const KzDeploymentListSchema = list(KzDeploymentSchema);

export type KzModelFile = v.InferOutput<typeof KzModelFileSchema>;
export type KzModel = v.InferOutput<typeof KzModelSchema>;
export type KzConfig = v.InferOutput<typeof KzConfigSchema>;
export type KzDownloadStatus = v.InferOutput<typeof KzDownloadStatusSchema>;
export type KzDeployment = v.InferOutput<typeof KzDeploymentSchema>;

/** Statuses from Kamiwaza's deployment docs; anything else (UNINITIALIZED, PENDING, ...) counts as starting. */
export const FAILED_STATUSES = new Set(['FAILED', 'ERROR', 'MUST_REDOWNLOAD']);
export const GONE_STATUSES = new Set(['STOPPED']);
