import type { Digest } from '../format/digest.js';
import { bufferForDirectReads, VIEW_SLACK, viewForPosition } from '../../lib/direct-io.js';
import { undefinedIfNotFound } from '../../lib/not-found.js';
import { packKey, type ChunkLocations } from '../store/packs.js';
import { blobKey, type Repository } from '../store/repository.js';
import { compareText } from '../../lib/compare-text.js';

// How verify reads the chunks it checks: chunks that sit back to back in one pack are read with one ranged request
// (on S3, a 2 GiB version is ~260 GETs instead of ~1,900); a loose chunk, or one the index does not name, on its own.

/** Bytes read at once from a pack; verify holds one such read per worker. */
const MAX_READ_BYTES = 8 * 1024 * 1024;
/** Workers for packed reads: this many reads of MAX_READ_BYTES bound verify's memory for packs at 64 MiB. */
export const PACKED_READERS = 8;

export interface ChunkRead<T> {
  chunks: Array<{ digest: Digest; size: number; use: T }>;
  /** Where the first chunk starts, when the chunks are in a pack. */
  pack?: { id: string; offset: number };
  /** A single chunk the pack index does not name: stored on its own, as a blob. */
  loose?: boolean;
}

/** Groups the chunks into reads: runs of neighbours within one pack, in pack order; single loose chunks. */
export function planReads<T>(chunks: Array<{ digest: Digest; size: number; use: T }>, index: ChunkLocations): Array<ChunkRead<T>> {
  const reads: Array<ChunkRead<T>> = [];
  const packed = chunks
    .map((chunk) => ({ chunk, at: index.lookup(chunk.digest) }))
    .filter(({ chunk, at }) => {
      if (at?.size === chunk.size) return true;
      reads.push({ chunks: [chunk], loose: !at });
      return false;
    })
    .sort((a, b) => compareText(a.at!.pack, b.at!.pack) || a.at!.offset - b.at!.offset);
  let run: (ChunkRead<T> & { end: number; bytes: number }) | undefined;
  for (const { chunk, at } of packed) {
    if (run && run.pack!.id === at!.pack && run.end === at!.offset && run.bytes + chunk.size <= MAX_READ_BYTES) {
      run.chunks.push(chunk);
      run.end += chunk.size;
      run.bytes += chunk.size;
      continue;
    }
    run = { chunks: [chunk], pack: { id: at!.pack, offset: at!.offset }, end: at!.offset + chunk.size, bytes: chunk.size };
    reads.push(run);
  }
  return reads;
}

/**
 * One verify worker's reads, into one reused buffer: a new 8 MiB buffer per read makes peak memory grow with the
 * number of reads in flight. Each buffer is MAX_READ_BYTES, allocated once: a worker reading loose chunks touches
 * only as much of it as the largest chunk (4 MiB by default); growing it to each read's size instead costs page
 * faults on every growth. The buffer is aligned memory, and each read lands where its offset sits in a block
 * (viewForPosition), so a read around the page cache lands in place, with the whole blocks around it, instead of
 * being copied out of a bounce buffer (a copy of every byte verified). The bytes returned are valid until the next read.
 */
export class PackReader {
  private base?: Buffer;

  async read(repo: Repository, key: string, offset: number, length: number): Promise<Buffer> {
    const { backend } = repo;
    if (!backend.readInto || length > MAX_READ_BYTES) return backend.getRange(key, offset, length);
    // A view never spans its whole memory, so a hashing worker copies it rather than taking it (leaving it detached).
    this.base ??= bufferForDirectReads(MAX_READ_BYTES + 2 * VIEW_SLACK);
    const target = viewForPosition(this.base, offset, length);
    return target.subarray(0, await backend.readInto(key, target, offset));
  }
}

/**
 * The stored bytes of each chunk of the read, unverified, or undefined for a chunk the store says is not there.
 * Any other failure is thrown: a chunk is never reported missing because a request failed.
 */
export async function readChunks<T>(repo: Repository, read: ChunkRead<T>, reader: PackReader, locations: ChunkLocations): Promise<Array<Buffer | undefined>> {
  if (!read.pack) {
    const { digest, size } = read.chunks[0]!;
    if (!read.loose) return [await repo.readChunk(digest, locations)];
    // A loose chunk, into the reused buffer too (a new buffer per chunk made a 2 GiB verify fault in ~240 MiB of fresh
    // pages). One byte more than its size is asked for, so a file with bytes after the chunk fails its digest.
    return [await reader.read(repo, blobKey(digest), 0, size + 1).catch(undefinedIfNotFound)];
  }
  const length = read.chunks.reduce((sum, chunk) => sum + chunk.size, 0);
  const bytes = await reader.read(repo, packKey(read.pack.id), read.pack.offset, length).catch(undefinedIfNotFound);
  if (!bytes) return read.chunks.map(() => undefined);
  let offset = 0;
  // A pack cut short gives short slices, which then fail their digest: reported as corrupt, as a short loose chunk is.
  return read.chunks.map((chunk) => bytes.subarray(offset, (offset += chunk.size)));
}
