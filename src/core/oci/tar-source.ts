import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { AimError, IntegrityError, StorageError } from '../../lib/errors.js';
import { MAX_MANIFEST_FILES } from '../format/schemas/limits.js';
import { describeValue } from '../format/schemas/parse.js';
import type { ProgressTask } from '../progress.js';
import { blobMismatch, blobMissing, FolderSource, sizeMismatch, type LayoutSource } from './layout-source.js';
import { sha256Hex, type Descriptor } from './oci-schemas.js';

// A layout tar read once, front to back, as it streams (a file or standard input): a tar may hold the layers before
// the manifest that says what they are, so every blob is written to a private folder (under AIM_HOME, made by the
// caller), hashed on the way, and renamed to its digest only once it matched; the blobs together may take no more
// than the disk has free (each entry's size is in its header, so a tar asking for more is refused before it is
// written). Nothing else in the tar is written: oci-layout and index.json are kept in memory (bounded), other names
// are skipped, links are refused.

const BLOB_NAME = /^blobs\/sha256\/([0-9a-f]{64})$/;
/** Blobs a model layout can need: one per layer, plus the manifest, the config and a few indexes. */
const MAX_BLOBS = MAX_MANIFEST_FILES + 16;

/** An entry of the tar being read: its header, then its bytes. */
interface TarEntry extends AsyncIterable<Buffer> {
  header: tar.Header;
  resume(): unknown;
}

const formatSize = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

function refused(where: string, name: string, why: string): IntegrityError {
  return new IntegrityError(`${where}: tar entry ${describeValue(name)} ${why}`, { hint: 'an OCI layout tar holds only oci-layout, index.json and blobs/sha256/*: nothing was imported' });
}

/**
 * A failure while reading a tar as what it is: the tar's own fault (cut short, not a tar, bad gzip) becomes one plain
 * error naming it; aim's refusals and the system's errors (a full disk) pass through unchanged.
 */
export function asTarError(error: unknown, what: string): unknown {
  if (error instanceof AimError) return error;
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code && !code.startsWith('Z_')) return error;
  return new IntegrityError(`${what} is not a readable tar: ${(error as Error)?.message ?? String(error)}`, { hint: 'it is damaged or was cut short: nothing was imported; export it again' });
}

/** Unpacks the layout tar `input` into `folder` (empty, private) and returns it as a LayoutSource. */
export interface UnpackLimits {
  /** Most bytes oci-layout or index.json may hold. */
  maxTop: number;
  /** Most bytes of blobs the folder may take (what its disk has free): a tar asking for more is refused before it fills it. */
  maxBlobBytes: number;
}

export async function unpackLayoutTar(input: Readable, folder: string, where: string, limits: UnpackLimits, task: ProgressTask): Promise<LayoutSource> {
  const extract = tar.extract();
  const reading = pipeline(input, extract);
  reading.catch(() => undefined); // awaited below; an early failure also ends the loop
  const top = new Map<string, Buffer>();
  /** The size of each blob written, by its hex digest. */
  const blobs = new Map<string, number>();
  let blobBytes = 0;
  try {
    for await (const entry of extract as AsyncIterable<unknown> as AsyncIterable<TarEntry>) {
      const name = entry.header.name.replace(/^(\.\/)+/, '');
      const type = entry.header.type ?? 'file';
      const size = entry.header.size ?? 0;
      if (type === 'directory') {
        entry.resume();
        continue;
      }
      if (type === 'symlink' || type === 'link') throw refused(where, name, `is a ${type === 'link' ? 'hard link' : 'symbolic link'}; aim follows no links`);
      if (type !== 'file' && type !== 'contiguous-file') throw refused(where, name, `is a ${type}, not a file`);
      const blob = BLOB_NAME.exec(name)?.[1];
      if (name === 'oci-layout' || name === 'index.json') {
        // Two copies would let a scanner that reads the first and aim (reading the last) see different models.
        if (top.has(name)) throw refused(where, name, 'appears twice; a layout has one');
        if (size > limits.maxTop) throw refused(where, name, `is ${size} bytes, more than the ${limits.maxTop} it may hold`);
        top.set(name, await readAll(entry));
      } else if (blob && !blobs.has(blob)) {
        if (blobs.size >= MAX_BLOBS) throw refused(where, name, `is blob number ${blobs.size + 1}, more than a model layout holds`);
        blobBytes += size;
        if (blobBytes > limits.maxBlobBytes) {
          throw new StorageError(`${where} holds more than the ${formatSize(limits.maxBlobBytes)} free in ${folder} for its blobs`, {
            hint: 'free some space, or point AIM_HOME at a larger disk (the import keeps the layout there while it runs)',
          });
        }
        blobs.set(blob, await writeBlob(entry, folder, blob, where, task));
      } else {
        for await (const bytes of entry) task.advance(bytes.length); // a blob already seen, or a name layouts do not use
      }
    }
    await reading;
  } catch (error) {
    extract.destroy();
    input.destroy();
    throw asTarError(error, where);
  }
  return new UnpackedSource(folder, where, top, blobs);
}

async function readAll(entry: TarEntry): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const bytes of entry) parts.push(bytes);
  return Buffer.concat(parts);
}

/** Writes the blob, checked against its name; returns its size. */
async function writeBlob(entry: TarEntry, folder: string, hex: string, where: string, task: ProgressTask): Promise<number> {
  const partial = join(folder, `${hex}.partial`);
  const handle = await open(partial, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  const hash = createHash('sha256');
  let size = 0;
  try {
    for await (const bytes of entry) {
      hash.update(bytes);
      size += bytes.length;
      await handle.write(bytes);
      task.advance(bytes.length);
    }
  } finally {
    await handle.close();
  }
  const actual = hash.digest('hex');
  if (actual !== hex) throw blobMismatch(where, `sha256:${hex}`, `holds bytes that hash to sha256:${actual}`);
  await rename(partial, join(folder, hex));
  return size;
}

/** The unpacked blobs, verified on the way in, laid out as a layout folder so FolderSource reads them. */
class UnpackedSource extends FolderSource {
  constructor(
    private readonly blobsFolder: string,
    where: string,
    private readonly top: Map<string, Buffer>,
    private readonly blobSizes: ReadonlyMap<string, number>,
  ) {
    super(join(blobsFolder, '..', '..'), where);
  }

  override async readTop(name: 'oci-layout' | 'index.json', maxBytes: number): Promise<Buffer | undefined> {
    const bytes = this.top.get(name);
    if (bytes && bytes.length > maxBytes) throw refused(this.where, name, `is ${bytes.length} bytes, more than the ${maxBytes} it may hold`);
    return bytes;
  }

  /**
   * Where a verified blob lies, so a raw layer becomes a file by a hard link instead of a copy. The link skips
   * blobChunks, so its checks are made here: the blob was in the tar, and its descriptor tells its size.
   */
  verifiedBlobPath(descriptor: Descriptor): string {
    const hex = sha256Hex(descriptor.digest);
    const size = this.blobSizes.get(hex);
    if (size === undefined) throw blobMissing(this.where, descriptor);
    if (size !== descriptor.size) throw sizeMismatch(this.where, descriptor, size);
    return join(this.blobsFolder, hex);
  }
}
