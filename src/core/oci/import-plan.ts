import * as v from 'valibot';
import { IntegrityError, UsageError } from '../../lib/errors.js';
import { someOf } from '../../lib/plural.js';
import { unsafePathReason } from '../format/paths.js';
import { describeValue } from '../format/schemas/parse.js';
import { BUNDLE_MEDIA_TYPE } from '../signing/bundle.js';
import { SIGNATURE_FILE } from './export-signatures.js';
import type { LayoutSource } from './layout-source.js';
import {
  AIM_ANNOTATIONS, AIM_DIGEST, DOCKER_CONFIGS, dockerFileName, FILE_METADATA, FILEPATH, KITOPS_CONFIG, layerPacking, MODELPACK_CONFIG, OCI_INDEX,
  OCI_MANIFEST, OCI_TITLE, type LayerPacking,
} from './media-types.js';
import { MAX_OCI_JSON_BYTES, parseImageManifest, parseIndex, parseLayoutFile, type Descriptor, type Sha256 } from './oci-schemas.js';

// What an OCI layout holds, read from its index.json down: the one image manifest, its config, and for each layer
// how it becomes files. ModelPack, KitOps ModelKits and Docker Model Runner models are understood; anything else
// is refused before a byte of a layer is read.

export type Flavour = 'modelpack' | 'kitops' | 'docker';

export interface PlannedLayer {
  descriptor: Descriptor;
  packing: LayerPacking;
  /** For a raw layer: the file it becomes, and its permission bits. */
  path?: string;
  mode: number;
}

export interface ImportPlan {
  flavour: Flavour;
  manifestDigest: Sha256;
  layers: PlannedLayer[];
  /** The config blob, kept for KitOps (its Kitfile). */
  config: Buffer;
  /** The aim annotations an aim export carried, else a few from the OCI annotations. */
  annotations: Record<string, string>;
  /** The aim version an aim export was made from. */
  aimDigest?: string;
  /** Signatures the layout carries, unread: model.sig layers, and the index's referrer manifests (import-signatures.ts). */
  signatureLayers: Descriptor[];
  referrers: Descriptor[];
}

/** A model-signing bundle carried as a layer named model.sig: a signature of the other layers, not a file of the model. */
const isSignatureLayer = (layer: Descriptor): boolean => layer.mediaType === BUNDLE_MEDIA_TYPE && layer.annotations?.[FILEPATH] === SIGNATURE_FILE;

const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const hint = 'the layout is damaged or was not made for a model: nothing was imported';

export async function planImport(source: LayoutSource): Promise<ImportPlan> {
  const layoutBytes = await source.readTop('oci-layout', 4096);
  if (!layoutBytes) throw new IntegrityError(`${source.where} has no oci-layout file: it is not an OCI image layout`, { hint: 'give a tar or folder written by `aim export`, `skopeo copy ... oci:DIR` or `oras copy --to-oci-layout`' });
  parseLayoutFile(layoutBytes, `${source.where} oci-layout`);
  const indexBytes = await source.readTop('index.json', MAX_OCI_JSON_BYTES);
  if (!indexBytes) throw new IntegrityError(`${source.where} has no index.json`, { hint });
  const index = parseIndex(indexBytes, `${source.where} index.json`);
  const referrers = index.manifests.filter((m) => m.artifactType === BUNDLE_MEDIA_TYPE);
  const descriptor = oneManifest(index.manifests.filter((m) => m.artifactType !== BUNDLE_MEDIA_TYPE), source.where);
  const manifest = parseImageManifest(await source.readBlob(descriptor, MAX_OCI_JSON_BYTES), `${source.where} manifest ${descriptor.digest}`);
  const flavour = flavourOf(manifest.config.mediaType, source.where);
  const config = await source.readBlob(manifest.config, MAX_OCI_JSON_BYTES);
  const dockerNames = new Map<string, number>();
  const layers = manifest.layers.map((layer, i) => (isSignatureLayer(layer) ? undefined : planLayer(layer, i, flavour, dockerNames, source.where))).filter((layer) => layer !== undefined);
  const annotations = manifest.annotations ?? {};
  const aimAnnotations = annotations[AIM_ANNOTATIONS] === undefined ? undefined : parseAimAnnotations(annotations[AIM_ANNOTATIONS], source.where);
  const description = annotations['org.opencontainers.image.description'];
  return {
    flavour,
    manifestDigest: descriptor.digest,
    layers,
    config,
    annotations: aimAnnotations ?? { ...(description ? { description } : {}), 'oci.manifest': descriptor.digest, 'oci.artifact': flavour },
    aimDigest: aimAnnotations ? annotations[AIM_DIGEST] : undefined,
    signatureLayers: manifest.layers.filter(isSignatureLayer),
    referrers,
  };
}

const MAX_NAMES_SHOWN = 5;

function oneManifest(manifests: Descriptor[], where: string): Descriptor {
  const images = manifests.filter((m) => m.mediaType === OCI_MANIFEST || m.mediaType === DOCKER_MANIFEST);
  if (images.length === 1) return images[0]!;
  if (images.length === 0 && manifests.some((m) => m.mediaType === OCI_INDEX)) {
    throw new UsageError(`${where} lists an image index, not a model manifest`, { hint: 'copy the one model you want out of it first: skopeo copy oci:DIR@sha256:... oci:ONE' });
  }
  // An index may list thousands: a few names say enough, and the message stays one readable line.
  const names = someOf(images.map((m) => describeValue(m.annotations?.['org.opencontainers.image.ref.name'] ?? m.digest)), MAX_NAMES_SHOWN);
  throw new UsageError(`${where} holds ${images.length} image manifests${images.length > 0 ? ` (${names})` : ''}; aim imports one`, { hint: 'copy the one you want into a layout of its own: skopeo copy oci:DIR:NAME oci:ONE' });
}

function flavourOf(configType: string, where: string): Flavour {
  if (configType === MODELPACK_CONFIG) return 'modelpack';
  if (configType === KITOPS_CONFIG) return 'kitops';
  if (DOCKER_CONFIGS.includes(configType)) return 'docker';
  throw new UsageError(`${where} holds an artifact with config type ${describeValue(configType)}, not a model aim knows`, {
    hint: 'aim imports CNCF ModelPack artifacts, KitOps ModelKits and Docker Model Runner models',
  });
}

function planLayer(layer: Descriptor, i: number, flavour: Flavour, dockerNames: Map<string, number>, where: string): PlannedLayer {
  const packing = layerPacking(layer.mediaType);
  const what = `layer ${i + 1} (${layer.digest}) of ${where}`;
  if (packing === 'zstd') throw new UsageError(`${what} is zstd-compressed (${layer.mediaType}), which aim cannot read`, { hint: 'export the model with uncompressed or gzip layers' });
  if (!packing) throw new UsageError(`${what} has media type ${describeValue(layer.mediaType)}, which aim does not import`, { hint: 'aim imports ModelPack, KitOps and Docker Model Runner layers' });
  if (packing.kind === 'tar') return { descriptor: layer, packing, mode: 0o644 };
  const named = layer.annotations?.[FILEPATH] ?? layer.annotations?.[OCI_TITLE];
  const path = named ?? (flavour === 'docker' ? dockerName(layer.mediaType, dockerNames) : undefined);
  if (path === undefined) throw new IntegrityError(`${what} names no file (no ${FILEPATH} annotation)`, { hint });
  const unsafe = unsafePathReason(path);
  if (unsafe) throw new IntegrityError(`${what} names the file ${describeValue(path)}, which ${unsafe}`, { hint });
  return { descriptor: layer, packing, path, mode: modeOf(layer.annotations?.[FILE_METADATA]) };
}

function dockerName(mediaType: string, seen: Map<string, number>): string {
  const count = seen.get(mediaType) ?? 0;
  seen.set(mediaType, count + 1);
  return dockerFileName(mediaType, count);
}

const metadataSchema = v.object({ mode: v.optional(v.pipe(v.number(), v.safeInteger(), v.minValue(0))) });

/** The permission bits of ModelPack's file metadata annotation; 0644 when it says nothing usable. */
function modeOf(metadata: string | undefined): number {
  if (!metadata) return 0o644;
  let parsed: unknown;
  try {
    parsed = JSON.parse(metadata);
  } catch {
    return 0o644;
  }
  const result = v.safeParse(metadataSchema, parsed);
  const mode = result.success ? result.output.mode : undefined;
  // Only the permission bits, and always readable by the owner: push reads the file back.
  return mode === undefined ? 0o644 : (mode & 0o777) | 0o400;
}

const annotationsSchema = v.pipe(v.record(v.string(), v.string()), v.maxEntries(1000));

function parseAimAnnotations(text: string, where: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const result = v.safeParse(annotationsSchema, parsed);
  if (!result.success) throw new IntegrityError(`${where}: the ${AIM_ANNOTATIONS} annotation is not a map of strings`, { hint });
  return result.output;
}
