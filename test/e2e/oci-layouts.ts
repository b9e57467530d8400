// OCI image layouts built by tests, as other tools write them: a folder (skopeo's oci:DIR) or a tar stream
// (oci-archive:), holding whatever manifest, config and layers a case needs, hostile ones included.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import tar from 'tar-stream';

export const sha256 = (bytes: Buffer | string): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

export interface LayerSpec {
  mediaType: string;
  bytes: Buffer;
  annotations?: Record<string, string>;
  /** The size its descriptor claims, when that lies. */
  size?: number;
}

export interface LayoutSpec {
  configType: string;
  config: object;
  layers: LayerSpec[];
  artifactType?: string;
  /** Replaces a blob's bytes after its digest was taken (a tampered layout). */
  tamper?: (blobs: Map<string, Buffer>) => void;
}

export interface Layout {
  /** Top-level files and blobs by digest, in the order a tar holds them. */
  files: Array<[name: string, bytes: Buffer]>;
  manifestDigest: string;
}

/** The blobs and top files of a layout with one image manifest. */
export function buildLayout(spec: LayoutSpec): Layout {
  const blobs = new Map<string, Buffer>();
  // Many layers may share one buffer: it is hashed once.
  const digests = new Map<Buffer, string>();
  const add = (bytes: Buffer): { digest: string; size: number } => {
    const digest = digests.get(bytes) ?? sha256(bytes);
    digests.set(bytes, digest);
    blobs.set(digest, bytes);
    return { digest, size: bytes.length };
  };
  const config = { mediaType: spec.configType, ...add(Buffer.from(JSON.stringify(spec.config))) };
  const layers = spec.layers.map((layer) => ({
    mediaType: layer.mediaType,
    ...add(layer.bytes),
    ...(layer.size === undefined ? {} : { size: layer.size }),
    ...(layer.annotations ? { annotations: layer.annotations } : {}),
  }));
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', ...(spec.artifactType ? { artifactType: spec.artifactType } : {}), config, layers }));
  const manifestRef = add(manifest);
  spec.tamper?.(blobs);
  const index = { schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifestRef }] };
  return {
    files: [
      ['oci-layout', Buffer.from('{"imageLayoutVersion":"1.0.0"}')],
      ['index.json', Buffer.from(JSON.stringify(index))],
      ...[...blobs].map(([digest, bytes]): [string, Buffer] => [`blobs/sha256/${digest.slice(7)}`, bytes]),
    ],
    manifestDigest: manifestRef.digest,
  };
}

export async function writeLayoutFolder(dir: string, layout: Layout): Promise<void> {
  for (const [name, bytes] of layout.files) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), bytes);
  }
}

export type TarEntrySpec = { name: string; bytes: Buffer } | { name: string; type: 'symlink' | 'link'; linkname: string } | { name: string; type: 'directory' };

/** A tar of `entries`, gzipped when asked. */
export async function writeTar(path: string, entries: TarEntrySpec[], gzip = false): Promise<void> {
  const pack = tar.pack();
  const done = gzip ? pipeline(pack, createGzip(), createWriteStream(path)) : pipeline(pack, createWriteStream(path));
  for (const entry of entries) {
    if ('bytes' in entry) pack.entry({ name: entry.name, size: entry.bytes.length, mode: 0o644 }, entry.bytes);
    else pack.entry({ name: entry.name, type: entry.type, linkname: 'linkname' in entry ? entry.linkname : undefined });
  }
  pack.finalize();
  await done;
}

/** A tar of `entries` in memory (a layer that is itself a tar). */
export async function tarBytes(entries: TarEntrySpec[], gzip = false): Promise<Buffer> {
  const pack = tar.pack();
  for (const entry of entries) {
    if ('bytes' in entry) pack.entry({ name: entry.name, size: entry.bytes.length, mode: 0o644 }, entry.bytes);
    else pack.entry({ name: entry.name, type: entry.type, linkname: 'linkname' in entry ? entry.linkname : undefined });
  }
  pack.finalize();
  const parts: Buffer[] = [];
  const source = gzip ? pack.pipe(createGzip()) : pack;
  for await (const part of source as AsyncIterable<Buffer>) parts.push(part);
  return Buffer.concat(parts);
}

export async function writeLayoutTar(path: string, layout: Layout, order: 'layout-first' | 'blobs-first' = 'layout-first'): Promise<void> {
  const files = order === 'layout-first' ? layout.files : [...layout.files.slice(2), ...layout.files.slice(0, 2)];
  await writeTar(path, files.map(([name, bytes]) => ({ name, bytes })));
}

/** `tarred` with its first entry's type flag set to `flag` (one a tar writer may use that aim does not unpack), its checksum made again. */
export function withTypeFlag(tarred: Buffer, flag: string): Buffer {
  const bytes = Buffer.from(tarred);
  bytes.write(flag, 156, 'latin1');
  bytes.fill(0x20, 148, 156);
  const sum = bytes.subarray(0, 512).reduce((total, byte) => total + byte, 0);
  bytes.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return bytes;
}
