import { createHash, type Hash } from 'node:crypto';
import type { Digest } from '../format/digest.js';
import type { ManifestFile } from '../format/manifest.js';
import { silentProgress, type ProgressSink, type ProgressTask } from '../progress.js';
import type { ChunkLocations } from '../store/packs.js';
import type { TrustedKey } from '../signing/keys.js';
import type { Repository } from '../store/repository.js';
import { resolveVersion, type VersionSelector } from '../store/resolve.js';
import { IntegrityError, UsageError } from '../../lib/errors.js';
import { MODELPACK_ARTIFACT, MODELPACK_CONFIG, OCI_INDEX, OCI_LAYOUT_VERSION, OCI_MANIFEST, REF_NAME } from './media-types.js';
import { signaturesToCarry, writeReferrers, writeSignatureLayer } from './export-signatures.js';
import { imageManifest, layerDescriptor, modelpackConfig, type Blob, type ExportedVersion } from './modelpack.js';
import { sha256Hex, sha256Of, type Sha256 } from './oci-schemas.js';
import type { NamePatch } from './tar-names.js';
import { verifiedFileBytes } from './version-bytes.js';

// `aim export`: a version as an OCI image layout in one tar stream, holding a CNCF ModelPack artifact. A tar entry
// is named by its blob's sha256 and that name comes before the bytes. Into a file, each layer is read once from the
// repository and its name rewritten once the file is written (tar-names.ts); into a stream (standard output), every
// file is read twice: once to learn its sha256, once into the tar, checked against the first read. Both write the
// same bytes: oci-layout, the layers in the version's order (one per distinct content), then config, manifest and
// index.json, which name the layers' digests.

export interface ExportOptions {
  progress?: ProgressSink;
  /**
   * Keys the user trusts for this repository: the model.sig layer carries one of theirs when there is one, and a
   * signature naming one of them is carried only if it verifies with it.
   */
  trustedKeys?: readonly TrustedKey[];
}

/** Where the layout's entries go, in the order written: a tar stream (layout-tar-writer.ts) or a folder. */
export interface LayoutWriter {
  addBytes(name: string, bytes: Buffer): Promise<number>;
  /** An entry of `size` bytes; returns what a NamePatch's `offset` names it by. */
  addStream(name: string, size: number, chunks: AsyncIterable<Buffer>): Promise<number>;
  finish(): Promise<void>;
  abort(error: unknown): void;
}

export interface ExportOutput {
  writer: LayoutWriter;
  /** For an output aim may rewrite once it is written (a file, a folder): fixes the layers' names after one read of each. */
  rewriteNames?: (patches: NamePatch[]) => Promise<void>;
}

export interface ExportedLayer {
  path: string;
  mediaType: string;
  digest: Sha256;
  size: number;
}

export interface ExportResult {
  repo: string;
  model: string;
  tag?: string;
  /** The aim version exported. */
  digest: Digest;
  /** The OCI image manifest's digest: the name a registry gives the artifact once copied there. */
  manifestDigest: Sha256;
  layers: ExportedLayer[];
  totalBytes: number;
  /** The signatures carried: each as an OCI referrer of the model manifest; the first also as its model.sig layer. */
  signatures: Array<{ keyId: string; referrer: Sha256 }>;
  seconds: number;
}

const jsonBytes = (value: object): Buffer => Buffer.from(JSON.stringify(value));

export async function exportVersion(repo: Repository, selector: VersionSelector, output: ExportOutput, options: ExportOptions = {}): Promise<ExportResult> {
  const started = performance.now();
  const progress = options.progress ?? silentProgress;
  const resolved = await resolveVersion(repo, selector);
  const version: ExportedVersion = { model: resolved.model, tag: selector.digest ? undefined : resolved.tag, digest: resolved.digest, manifest: resolved.manifest };
  const { files } = version.manifest;
  if (files.length === 0) {
    throw new UsageError(`version ${version.digest} of ${repo.name}/${version.model} holds no files`, { hint: 'an OCI model artifact needs at least one layer: push files first' });
  }
  const reader: LayerReader = { repo, locations: await repo.locationsFor(version.digest, version.manifest, (why) => progress.note(why)) };
  const totalBytes = files.reduce((sum, file) => sum + file.size, 0);
  // Two files with the same BLAKE3 have the same bytes: one blob serves both layers.
  const distinct = [...new Map(files.map((file) => [file.digest, file])).values()];
  const { writer } = output;
  try {
    await writer.addBytes('oci-layout', jsonBytes({ imageLayoutVersion: OCI_LAYOUT_VERSION }));
    const task = progress.begin('exporting layers', output.rewriteNames ? totalBytes : 2 * totalBytes);
    const patches: NamePatch[] = [];
    const digests = await (output.rewriteNames ? writeLayersOnce(writer, reader, distinct, patches, task) : writeLayersTwice(writer, reader, distinct, task)).finally(() => task.end());
    const layers = files.map((file) => layerDescriptor(file, digests.get(file.digest)!));
    const signatures = await signaturesToCarry(repo, resolved, options.trustedKeys ?? [], (why) => progress.note(why));
    const written = new Set<string>(digests.values());
    const sigLayer = await writeSignatureLayer(writer, files.map((file) => file.path), signatures, blobName, written);
    const allLayers = sigLayer ? [...layers, sigLayer] : layers;
    const configBytes = jsonBytes(modelpackConfig(version, allLayers.map((layer) => layer.digest)));
    const config: Blob = { mediaType: MODELPACK_CONFIG, digest: sha256Of(configBytes), size: configBytes.length };
    const manifestBytes = jsonBytes(imageManifest(version, config, allLayers));
    const manifestDigest = sha256Of(manifestBytes);
    const model: Blob = { mediaType: OCI_MANIFEST, artifactType: MODELPACK_ARTIFACT, digest: manifestDigest, size: manifestBytes.length, ...(version.tag ? { annotations: { [REF_NAME]: version.tag } } : {}) };
    await writer.addBytes(blobName(config.digest), configBytes);
    await writer.addBytes(blobName(manifestDigest), manifestBytes);
    const referrers = await writeReferrers(writer, signatures, model, blobName, written);
    const index = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [model, ...referrers] };
    await writer.addBytes('index.json', jsonBytes(index));
    await writer.finish();
    await output.rewriteNames?.(patches);
    return {
      repo: repo.name,
      model: version.model,
      tag: version.tag,
      digest: version.digest,
      manifestDigest,
      layers: layers.map((layer, i) => ({ path: files[i]!.path, mediaType: layer.mediaType, digest: layer.digest, size: layer.size })),
      totalBytes,
      signatures: signatures.map((signature, i) => ({ keyId: signature.keyId, referrer: referrers[i]!.digest })),
      seconds: (performance.now() - started) / 1000,
    };
  } catch (error) {
    writer.abort(error);
    throw error;
  }
}

const blobName = (digest: Sha256): string => `blobs/sha256/${sha256Hex(digest)}`;

interface LayerReader {
  repo: Repository;
  locations: ChunkLocations;
}

/** A file's bytes from the repository (BLAKE3-checked), hashed with sha256 as they go by. */
async function* hashedBytes({ repo, locations }: LayerReader, file: ManifestFile, hash: Hash, task: ProgressTask): AsyncGenerator<Buffer> {
  for await (const bytes of verifiedFileBytes(repo, file, locations)) {
    hash.update(bytes);
    task.advance(bytes.length);
    yield bytes;
  }
}

/** The name a layer is written under before its sha256 is known (as long as the real one, for tar-names.ts). */
export const PLACEHOLDER = blobName(`sha256:${'0'.repeat(64)}` as Sha256);

/** Each layer read once, under a placeholder name of the right length that `patches` says how to fix. */
async function writeLayersOnce(writer: LayoutWriter, reader: LayerReader, files: ManifestFile[], patches: NamePatch[], task: ProgressTask): Promise<Map<Digest, Sha256>> {
  const digests = new Map<Digest, Sha256>();
  for (const file of files) {
    const hash = createHash('sha256');
    const offset = await writer.addStream(PLACEHOLDER, file.size, hashedBytes(reader, file, hash, task));
    const digest = `sha256:${hash.digest('hex')}` as Sha256;
    digests.set(file.digest, digest);
    patches.push({ offset, placeholder: PLACEHOLDER, name: blobName(digest) });
  }
  return digests;
}

/** Each layer read twice: for its sha256, then into the tar under that name, checked against the first read. */
async function writeLayersTwice(writer: LayoutWriter, reader: LayerReader, files: ManifestFile[], task: ProgressTask): Promise<Map<Digest, Sha256>> {
  const digests = new Map<Digest, Sha256>();
  for (const file of files) {
    const hash = createHash('sha256');
    for await (const _ of hashedBytes(reader, file, hash, task));
    digests.set(file.digest, `sha256:${hash.digest('hex')}` as Sha256);
  }
  for (const file of files) {
    const expected = digests.get(file.digest)!;
    const hash = createHash('sha256');
    await writer.addStream(blobName(expected), file.size, hashedBytes(reader, file, hash, task));
    const actual = `sha256:${hash.digest('hex')}`;
    if (actual !== expected) {
      throw new IntegrityError(`file ${file.path} of repository ${reader.repo.name} read differently twice (${expected}, then ${actual})`, {
        hint: `the repository changed under the export or the storage is failing: run \`aim verify ${reader.repo.name}\``,
      });
    }
  }
  return digests;
}
