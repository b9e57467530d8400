import { createHash } from 'node:crypto';
import * as v from 'valibot';
import { MAX_ANNOTATIONS, MAX_MANIFEST_FILES } from '../format/schemas/limits.js';
import { byteSize, parseJson, text, type Format } from '../format/schemas/parse.js';

// The JSON of an OCI image layout read back by `aim import`: oci-layout, index.json, an image manifest and its
// descriptors. All of it comes from whoever made the file, so each is bounded and parsed before use, and a digest
// becomes a file name only once it matched `sha256:` and 64 lowercase hex.

const KiB = 1024;
const MiB = 1024 * KiB;
/** Registries refuse manifests over 4 MiB; an index or config is no bigger in practice. */
export const MAX_OCI_JSON_BYTES = 4 * MiB;

const SHA256 = /^sha256:[0-9a-f]{64}$/;

export type Sha256 = string & { readonly sha256: true };

export const sha256Digest = v.pipe(
  v.string(),
  v.check((value: string) => SHA256.test(value), 'is not a sha256 digest (sha256: and 64 lowercase hex)'),
  v.transform((value) => value as Sha256),
);

export const sha256Hex = (digest: Sha256): string => digest.slice('sha256:'.length);

/** The digest of bytes aim writes into a layout. */
export const sha256Of = (bytes: Buffer): Sha256 => `sha256:${createHash('sha256').update(bytes).digest('hex')}` as Sha256;

const annotations = v.pipe(v.record(text(1024), text(64 * KiB)), v.maxEntries(MAX_ANNOTATIONS, `has more than ${MAX_ANNOTATIONS} annotations`));

export const descriptorSchema = v.object({
  mediaType: text(255),
  digest: sha256Digest,
  size: byteSize(),
  artifactType: v.optional(text(255)),
  annotations: v.optional(annotations),
});

export type Descriptor = v.InferOutput<typeof descriptorSchema>;

export const layoutFileSchema = v.object({ imageLayoutVersion: v.literal('1.0.0') });

export const indexSchema = v.object({
  schemaVersion: v.literal(2),
  mediaType: v.optional(text(255)),
  manifests: v.pipe(v.array(descriptorSchema), v.maxLength(10_000, 'lists more than 10000 manifests')),
});

export const imageManifestSchema = v.object({
  schemaVersion: v.literal(2),
  mediaType: v.optional(text(255)),
  artifactType: v.optional(text(255)),
  config: descriptorSchema,
  layers: v.pipe(v.array(descriptorSchema), v.minLength(1, 'lists no layers'), v.maxLength(MAX_MANIFEST_FILES, `lists more than ${MAX_MANIFEST_FILES} layers`)),
  annotations: v.optional(annotations),
});

export type ImageManifest = v.InferOutput<typeof imageManifestSchema>;

/** Damaged or hostile input is an IntegrityError naming the file, as for a repository's own files. */
function layoutFormat(what: string): Format {
  return { what, maxBytes: MAX_OCI_JSON_BYTES, hint: 'the OCI layout is damaged or was not made for a model; export it again' };
}

export const LAYOUT_FORMATS = {
  layout: { ...layoutFormat('oci-layout file'), maxBytes: 4 * KiB },
  index: layoutFormat('index.json'),
  manifest: layoutFormat('image manifest'),
} satisfies Record<string, Format>;

export function parseIndex(bytes: Uint8Array, where: string): v.InferOutput<typeof indexSchema> {
  return parseJson(indexSchema, bytes, LAYOUT_FORMATS.index, where);
}

export function parseImageManifest(bytes: Uint8Array, where: string): ImageManifest {
  return parseJson(imageManifestSchema, bytes, LAYOUT_FORMATS.manifest, where);
}

export function parseLayoutFile(bytes: Uint8Array, where: string): void {
  parseJson(layoutFileSchema, bytes, LAYOUT_FORMATS.layout, where);
}
