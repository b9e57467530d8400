import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { IntegrityError } from '../../lib/errors.js';
import { openRegular, readRegularFileIfExists, realFolder } from '../../lib/safe-fs.js';
import { sha256Hex, type Descriptor } from './oci-schemas.js';

// Where `aim import` reads an OCI image layout from. A folder (what `skopeo copy ... oci:DIR` writes) is read in
// place, each blob hashed as it is read; a tar (a file or standard input) is unpacked first into a private folder,
// each blob hashed as it is written (tar-source.ts). Either way a blob's bytes are used only once they matched the
// digest that names them, and only regular files are opened, never through a link.

/** Bytes read at a time from a blob. */
const READ_BYTES = 1024 * 1024;

export interface LayoutSource {
  /** The input, for messages. */
  where: string;
  /** `oci-layout` or `index.json`, or undefined when missing. */
  readTop(name: 'oci-layout' | 'index.json', maxBytes: number): Promise<Buffer | undefined>;
  /** A blob's bytes, checked against its descriptor's digest and size. */
  readBlob(descriptor: Descriptor, maxBytes: number): Promise<Buffer>;
  /** A blob streamed; the last step throws if the bytes do not match the descriptor. */
  blobChunks(descriptor: Descriptor): AsyncIterable<Buffer>;
  /**
   * Where a blob already checked lies on this machine, when it does (a tar's blobs once unpacked); throws as
   * blobChunks would when the blob is missing or its descriptor's size lies.
   */
  verifiedBlobPath?(descriptor: Descriptor): string;
}

export function blobMissing(where: string, descriptor: Descriptor): IntegrityError {
  return new IntegrityError(`${where} has no blob ${descriptor.digest} (${descriptor.mediaType})`, { hint: 'the layout is incomplete: export or copy it again' });
}

export function blobMismatch(where: string, digest: string, why: string): IntegrityError {
  return new IntegrityError(`blob ${digest} in ${where} ${why}`, { hint: 'the layout is damaged or was tampered with: nothing was imported; export or copy it again' });
}

export function sizeMismatch(where: string, descriptor: Descriptor, size: number): IntegrityError {
  return blobMismatch(where, descriptor.digest, `is ${size} bytes, its descriptor says ${descriptor.size}`);
}

export async function collectChunks(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts);
}

/** A layout folder, read in place. */
export class FolderSource implements LayoutSource {
  constructor(
    private readonly root: string,
    readonly where = root,
  ) {}

  async readTop(name: 'oci-layout' | 'index.json', maxBytes: number): Promise<Buffer | undefined> {
    return readRegularFileIfExists(join(this.root, name), maxBytes);
  }

  async readBlob(descriptor: Descriptor, maxBytes: number): Promise<Buffer> {
    if (descriptor.size > maxBytes) throw blobMismatch(this.where, descriptor.digest, `is ${descriptor.size} bytes, more than the ${maxBytes} its kind may hold`);
    return collectChunks(this.blobChunks(descriptor));
  }

  async *blobChunks(descriptor: Descriptor): AsyncGenerator<Buffer> {
    const folder = await realFolder(this.root, ['blobs', 'sha256']);
    const handle = await openRegular(join(folder, sha256Hex(descriptor.digest))).catch((error: NodeJS.ErrnoException) => {
      throw error.code === 'ENOENT' ? blobMissing(this.where, descriptor) : error;
    });
    try {
      const { size } = await handle.stat();
      if (size !== descriptor.size) throw sizeMismatch(this.where, descriptor, size);
      const hash = createHash('sha256');
      for (let position = 0; position < size; ) {
        const { bytesRead, buffer } = await handle.read(Buffer.allocUnsafe(Math.min(READ_BYTES, size - position)), 0, Math.min(READ_BYTES, size - position), position);
        if (bytesRead === 0) throw blobMismatch(this.where, descriptor.digest, 'ended early');
        position += bytesRead;
        const bytes = buffer.subarray(0, bytesRead);
        hash.update(bytes);
        yield bytes;
      }
      if (`sha256:${hash.digest('hex')}` !== descriptor.digest) throw blobMismatch(this.where, descriptor.digest, 'does not hash to its digest');
    } finally {
      await handle.close();
    }
  }
}
