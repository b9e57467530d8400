import type { Digest } from '../format/digest.js';
import type { ChunkLocations } from '../store/packs.js';
import { MAX_RUN_BYTES } from './chunk-buffers.js';

// A pull's reads planned per pack, from where the version's chunks live (restic's restorer plans the same way): the
// chunks wanted from one pack are read in offset order, with one ranged read for each stretch of them. Thousands of
// small files then cost a few reads instead of one request each.

/**
 * A gap between two wanted chunks of one pack up to this size is read through rather than split into two reads: one
 * more request costs more than reading 256 KiB, from a local disk (a system call and a seek) and from S3 (a round
 * trip of tens of milliseconds, in which a connection carries megabytes).
 */
export const MAX_GAP_BYTES = 256 * 1024;

export interface WantedChunk {
  digest: Digest;
  size: number;
}

export interface PlannedChunk extends WantedChunk {
  /** Where the chunk starts in the pack. */
  offset: number;
}

/** One ranged read of a pack: [offset, offset + length), holding `chunks` (sorted by offset). */
export interface PackRead {
  pack: string;
  offset: number;
  length: number;
  chunks: PlannedChunk[];
}

export interface ReadPlan {
  reads: PackRead[];
  /** Chunks the locations do not place in a pack at their size: fetched one by one (format 1 keeps a file per chunk). */
  unpacked: WantedChunk[];
}

/** Groups the wanted chunks (each once) by pack and cuts each pack's run into reads of up to `maxRead` bytes. */
export function planPackReads(wanted: Iterable<WantedChunk>, index: ChunkLocations, maxRead = MAX_RUN_BYTES): ReadPlan {
  const byPack = new Map<string, PlannedChunk[]>();
  const unpacked: WantedChunk[] = [];
  const seen = new Set<Digest>();
  for (const chunk of wanted) {
    if (seen.has(chunk.digest)) continue;
    seen.add(chunk.digest);
    const packed = index.lookup(chunk.digest);
    if (packed?.size !== chunk.size) {
      unpacked.push(chunk);
      continue;
    }
    const chunks = byPack.get(packed.pack) ?? [];
    chunks.push({ digest: chunk.digest, size: chunk.size, offset: packed.offset });
    byPack.set(packed.pack, chunks);
  }
  const reads: PackRead[] = [];
  for (const [pack, chunks] of byPack) reads.push(...cutIntoReads(pack, chunks.sort((a, b) => a.offset - b.offset), maxRead));
  return { reads, unpacked };
}

/** Consecutive reads over `chunks` (sorted by offset): a new one starts at a wide gap or where `maxRead` would be passed. */
function cutIntoReads(pack: string, chunks: PlannedChunk[], maxRead: number): PackRead[] {
  const reads: PackRead[] = [];
  let current: PackRead | undefined;
  for (const chunk of chunks) {
    const end = chunk.offset + chunk.size;
    const currentEnd = current ? current.offset + current.length : 0;
    if (current && chunk.offset - currentEnd <= MAX_GAP_BYTES && Math.max(end, currentEnd) - current.offset <= maxRead) {
      current.length = Math.max(end, currentEnd) - current.offset;
      current.chunks.push(chunk);
      continue;
    }
    current = { pack, offset: chunk.offset, length: chunk.size, chunks: [chunk] };
    reads.push(current);
  }
  return reads;
}
