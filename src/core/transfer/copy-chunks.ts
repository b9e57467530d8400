import { forEachConcurrently } from '../../lib/concurrently.js';
import { undefinedIfNotFound } from '../../lib/not-found.js';
import { IntegrityError } from '../../lib/errors.js';
import { digestOf, type Digest } from '../format/digest.js';
import type { Manifest } from '../format/manifest.js';
import type { ProgressTask } from '../progress.js';
import { packKey, type ChunkLocations } from '../store/packs.js';
import type { Repository } from '../store/repository.js';
import { planPackReads, type WantedChunk } from './pack-reads.js';

// Moving a version's chunks between repositories: the destination is asked, chunk by chunk, whether it has each
// (through what a push would learn: its maps and key chunks); only the others are read from the source, in ranged
// reads planned per pack as a pull plans them, and every chunk's BLAKE3 is checked as it arrives, before it is
// stored. Where the source is damaged the copy stops with the chunk named, having stored nothing wrong.

/** Where copied chunks go: the destination's pack writer, or (format 1) one object per chunk. */
export interface ChunkSink {
  has(digest: Digest, size: number): Promise<boolean>;
  add(digest: Digest, bytes: Uint8Array): Promise<void>;
}

export interface ChunkCopy {
  chunks: number;
  bytesMoved: number;
  bytesSkipped: number;
}

/** The version's distinct chunks. */
function chunksOf(manifest: Manifest): WantedChunk[] {
  const chunks = new Map<Digest, number>();
  for (const file of manifest.files) for (const chunk of file.chunks) chunks.set(chunk.digest, chunk.size);
  return [...chunks].map(([digest, size]) => ({ digest, size }));
}

async function checked(source: Repository, digest: Digest, bytes: Uint8Array | undefined, size: number): Promise<Uint8Array> {
  if (bytes?.length === size && (await digestOf(bytes)) === digest) return bytes;
  throw new IntegrityError(`chunk ${digest} is ${bytes ? 'corrupt' : 'missing'} in repository ${source.name} (${source.location}); nothing wrong was copied`, {
    hint: `run \`aim verify ${source.name}\`, then push that version again from a good copy`,
  });
}

/** Copies into `sink` every chunk of `manifest` it lacks, read from `source` through `where`. */
export async function copyChunks(source: Repository, where: ChunkLocations, manifest: Manifest, sink: ChunkSink, task: ProgressTask): Promise<ChunkCopy> {
  const all = chunksOf(manifest);
  const missing: WantedChunk[] = [];
  const result: ChunkCopy = { chunks: all.length, bytesMoved: 0, bytesSkipped: 0 };
  await forEachConcurrently(all, 16, async (chunk) => {
    if (await sink.has(chunk.digest, chunk.size)) {
      result.bytesSkipped += chunk.size;
      task.advance(chunk.size);
    } else missing.push(chunk);
  });
  const plan = planPackReads(missing, where);
  await forEachConcurrently(plan.reads, 4, async (read) => {
    const bytes = await source.backend.getRange(packKey(read.pack), read.offset, read.length).catch(undefinedIfNotFound);
    for (const chunk of read.chunks) {
      const at = chunk.offset - read.offset;
      await sink.add(chunk.digest, await checked(source, chunk.digest, bytes?.subarray(at, at + chunk.size), chunk.size));
      result.bytesMoved += chunk.size;
      task.advance(chunk.size);
    }
  });
  await forEachConcurrently(plan.unpacked, 8, async (chunk) => {
    await sink.add(chunk.digest, await checked(source, chunk.digest, await source.readChunk(chunk.digest, where, chunk.size), chunk.size));
    result.bytesMoved += chunk.size;
    task.advance(chunk.size);
  });
  return result;
}
