import { createHash } from 'node:crypto';
import type { Writable } from 'node:stream';
import type { Digest } from '../format/digest.js';
import type { ManifestFile } from '../format/manifest.js';
import { silentProgress, type ProgressSink } from '../progress.js';
import type { ChunkLocations } from '../store/packs.js';
import type { Repository } from '../store/repository.js';
import { resolveVersion, type VersionSelector } from '../store/resolve.js';
import { IntegrityError, UsageError } from '../../lib/errors.js';
import { LayoutTarWriter } from './layout-tar-writer.js';
import { MODELPACK_ARTIFACT, MODELPACK_CONFIG, OCI_INDEX, OCI_LAYOUT_VERSION, OCI_MANIFEST, REF_NAME } from './media-types.js';
import { imageManifest, layerDescriptor, modelpackConfig, type Blob, type ExportedVersion } from './modelpack.js';
import { sha256Hex, type Sha256 } from './oci-schemas.js';
import { verifiedFileBytes } from './version-bytes.js';

// `aim export`: a version as an OCI image layout in one tar stream, holding a CNCF ModelPack artifact. A tar entry
// is named by its blob's sha256 and that name comes before the bytes, so every file is read twice from the
// repository: once to learn its sha256, once to stream it into the tar (checked again against the first read).
// The small JSON entries then come first, before the layers, so a reader of the stream meets the manifest early.

export interface ExportOptions {
  progress?: ProgressSink;
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
  /** The OCI image manifest's digest: what `skopeo inspect` shows as Digest. */
  manifestDigest: Sha256;
  layers: ExportedLayer[];
  totalBytes: number;
  seconds: number;
}

const sha256Of = (bytes: Buffer): Sha256 => `sha256:${createHash('sha256').update(bytes).digest('hex')}` as Sha256;
const jsonBytes = (value: object): Buffer => Buffer.from(JSON.stringify(value));

export async function exportVersion(repo: Repository, selector: VersionSelector, out: Writable, options: ExportOptions = {}): Promise<ExportResult> {
  const started = performance.now();
  const progress = options.progress ?? silentProgress;
  const resolved = await resolveVersion(repo, selector);
  const version: ExportedVersion = { model: resolved.model, tag: selector.digest ? undefined : resolved.tag, digest: resolved.digest, manifest: resolved.manifest };
  const { files } = version.manifest;
  if (files.length === 0) {
    throw new UsageError(`version ${version.digest} of ${repo.name}/${version.model} holds no files`, { hint: 'an OCI model artifact needs at least one layer: push files first' });
  }
  const locations = await repo.locationsFor(version.digest, version.manifest, (why) => progress.note(why));
  const totalBytes = files.reduce((sum, file) => sum + file.size, 0);
  const digests = await hashFiles(repo, files, locations, progress, totalBytes);
  const layers = files.map((file, i) => layerDescriptor(file, digests[i]!));
  const configBytes = jsonBytes(modelpackConfig(version, digests));
  const config: Blob = { mediaType: MODELPACK_CONFIG, digest: sha256Of(configBytes), size: configBytes.length };
  const manifestBytes = jsonBytes(imageManifest(version, config, layers));
  const manifestDigest = sha256Of(manifestBytes);
  const index = {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [{ mediaType: OCI_MANIFEST, artifactType: MODELPACK_ARTIFACT, digest: manifestDigest, size: manifestBytes.length, ...(version.tag ? { annotations: { [REF_NAME]: version.tag } } : {}) }],
  };
  const writer = new LayoutTarWriter(out);
  try {
    await writer.addBytes('oci-layout', jsonBytes({ imageLayoutVersion: OCI_LAYOUT_VERSION }));
    await writer.addBytes('index.json', jsonBytes(index));
    await writer.addBytes(blobName(manifestDigest), manifestBytes);
    await writer.addBytes(blobName(config.digest), configBytes);
    await writeLayers(writer, repo, files, digests, locations, progress, totalBytes);
    await writer.finish();
  } catch (error) {
    writer.abort(error);
    throw error;
  }
  return {
    repo: repo.name,
    model: version.model,
    tag: version.tag,
    digest: version.digest,
    manifestDigest,
    layers: layers.map((layer, i) => ({ path: files[i]!.path, mediaType: layer.mediaType, digest: layer.digest, size: layer.size })),
    totalBytes,
    seconds: (performance.now() - started) / 1000,
  };
}

const blobName = (digest: Sha256): string => `blobs/sha256/${sha256Hex(digest)}`;

async function hashFiles(repo: Repository, files: ManifestFile[], locations: ChunkLocations, progress: ProgressSink, totalBytes: number): Promise<Sha256[]> {
  const task = progress.begin('reading layers', totalBytes);
  try {
    const digests: Sha256[] = [];
    for (const file of files) {
      const hash = createHash('sha256');
      for await (const bytes of verifiedFileBytes(repo, file, locations)) {
        hash.update(bytes);
        task.advance(bytes.length);
      }
      digests.push(`sha256:${hash.digest('hex')}` as Sha256);
    }
    return digests;
  } finally {
    task.end();
  }
}

/** Each distinct layer once (two files with the same bytes are one blob), checked against the first read. */
async function writeLayers(writer: LayoutTarWriter, repo: Repository, files: ManifestFile[], digests: Sha256[], locations: ChunkLocations, progress: ProgressSink, totalBytes: number): Promise<void> {
  const task = progress.begin('writing layers', totalBytes);
  const written = new Set<Sha256>();
  try {
    for (const [i, file] of files.entries()) {
      const expected = digests[i]!;
      if (written.has(expected)) {
        task.advance(file.size);
        continue;
      }
      const hash = createHash('sha256');
      const chunks = async function* (): AsyncGenerator<Buffer> {
        for await (const bytes of verifiedFileBytes(repo, file, locations)) {
          hash.update(bytes);
          task.advance(bytes.length);
          yield bytes;
        }
      };
      await writer.addStream(blobName(expected), file.size, chunks());
      const actual = `sha256:${hash.digest('hex')}`;
      if (actual !== expected) {
        throw new IntegrityError(`file ${file.path} of repository ${repo.name} read differently twice (${expected}, then ${actual})`, {
          hint: `the repository changed under the export or the storage is failing: run \`aim verify ${repo.name}\``,
        });
      }
      written.add(expected);
    }
  } finally {
    task.end();
  }
}
