import { basename } from 'node:path';
import type { Digest } from '../format/digest.js';
import type { Manifest, ManifestFile } from '../format/manifest.js';
import {
  AIM_ANNOTATIONS, AIM_DIGEST, AIM_FILE_DIGEST, FILE_METADATA, FILEPATH, layerKindOf, MEDIATYPE_UNTESTED, MODELPACK_ARTIFACT,
  modelpackRawType, OCI_MANIFEST, OCI_TITLE,
} from './media-types.js';
import type { Sha256 } from './oci-schemas.js';

// A version as a CNCF ModelPack artifact (github.com/modelpack/model-spec docs/spec.md and docs/config.md): every
// file its own uncompressed layer, named by org.cncf.model.filepath; a config describing the model. Nothing in it
// depends on when or where it is exported, so the same version (with the same signatures: export-signatures.ts)
// always exports to the same manifest digest.

export interface ExportedVersion {
  model: string;
  tag?: string;
  digest: Digest;
  manifest: Manifest;
}

export interface Blob {
  mediaType: string;
  digest: Sha256;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** A fixed time for every file's metadata and tar entry, so exports are byte for byte reproducible. */
export const EPOCH = new Date(0);

export function layerDescriptor(file: ManifestFile, sha256: Sha256): Blob {
  const { kind, untested } = layerKindOf(file.path);
  const metadata = { name: basename(file.path), mode: file.mode, uid: 0, gid: 0, size: file.size, mtime: '1970-01-01T00:00:00Z', typeflag: 48 };
  return {
    mediaType: modelpackRawType(kind),
    digest: sha256,
    size: file.size,
    annotations: {
      [FILEPATH]: file.path,
      [FILE_METADATA]: JSON.stringify(metadata),
      ...(untested ? { [MEDIATYPE_UNTESTED]: 'true' } : {}),
      [OCI_TITLE]: file.path,
      [AIM_FILE_DIGEST]: file.digest,
    },
  };
}

const SCALES: Array<[number, string]> = [[1e15, 'Q'], [1e12, 'T'], [1e9, 'B'], [1e6, 'M'], [1e3, 'K']];

/** ModelPack's paramSize: a count with at most one decimal and a scale letter, e.g. `6.7B`, `100M`, `0.5K`. */
export function paramSize(parameters: number): string {
  const [scale, letter] = SCALES.find(([value]) => parameters >= value) ?? SCALES.at(-1)!;
  return `${Number((parameters / scale).toFixed(1))}${letter}`;
}

const PRECISIONS: Record<string, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16', ALL_F32: 'float32', MOSTLY_F16: 'float16', MOSTLY_BF16: 'bfloat16' };

function modelFormat(files: ManifestFile[]): string | undefined {
  const extensions = new Set(files.map((file) => /\.([^./]+)$/.exec(file.path)?.[1]?.toLowerCase()));
  return ['gguf', 'safetensors', 'onnx', 'pt', 'pth'].find((extension) => extensions.has(extension))?.replace('pth', 'pt');
}

/** The config blob: the descriptor from the version's name and annotations, the technical facts from the GGUF header. */
export function modelpackConfig(version: ExportedVersion, diffIds: Sha256[]): object {
  const annotations = version.manifest.annotations;
  const parameters = Number(annotations['gguf.parameter_count']);
  const quantization = annotations['gguf.quantization'];
  const config = {
    format: modelFormat(version.manifest.files),
    paramSize: Number.isSafeInteger(parameters) && parameters > 0 ? paramSize(parameters) : undefined,
    precision: quantization ? PRECISIONS[quantization] : undefined,
    quantization,
  };
  const descriptor = {
    family: annotations['gguf.architecture'],
    name: version.model,
    version: version.tag,
    description: annotations.description,
    sourceURL: annotations.source,
    licenses: annotations.license ? [annotations.license] : undefined,
  };
  return { descriptor: withoutUndefined(descriptor), config: withoutUndefined(config), modelfs: { type: 'layers', diffIds } };
}

export function imageManifest(version: ExportedVersion, config: Blob, layers: Blob[]): object {
  const { annotations } = version.manifest;
  return {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: MODELPACK_ARTIFACT,
    config,
    layers,
    annotations: withoutUndefined({
      [OCI_TITLE]: version.model,
      'org.opencontainers.image.version': version.tag,
      'org.opencontainers.image.description': annotations.description,
      [AIM_DIGEST]: version.digest,
      [AIM_ANNOTATIONS]: JSON.stringify(annotations),
    }),
  };
}

function withoutUndefined<T extends Record<string, unknown>>(record: T): Partial<T> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined)) as Partial<T>;
}
