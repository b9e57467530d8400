import type { Backend } from '../../backends/backend.js';
import { undefinedIfNotFound } from '../../lib/not-found.js';
import { digestOf, type Digest } from '../format/digest.js';
import type { ProgressTask } from '../progress.js';
import { PackWriter } from '../store/pack-writer.js';
import { packKey, type PackedChunk, type PackEntry } from '../store/packs.js';
import { planPackReads } from '../transfer/pack-reads.js';
import type { PackVerdict } from './plan.js';

// Repacking copies the live chunks of partly alive packs into new packs, as a push stores chunks: a pending record
// first, the packs, then their index shards and key objects (PackWriter), so a gc killed half-way leaves packs the
// next push takes back like any killed push's. Every chunk is checked against its digest as it is read: a damaged
// one is not copied, and its pack is kept, so verify still finds it there.

export interface Repacked {
  /** Where each copied chunk is now. */
  moved: Map<Digest, PackedChunk>;
  shards: Array<{ id: string; packs: Map<string, PackEntry[]> }>;
  /** Packs with a live chunk that is missing or damaged: kept. */
  damaged: Set<string>;
  packsWritten: number;
  bytesWritten: number;
}

async function copyPack(backend: Backend, pack: PackVerdict, writer: PackWriter, damaged: Set<string>): Promise<void> {
  const here = new Map<Digest, PackedChunk>(pack.live.map((e) => [e.digest, { pack: pack.id, offset: e.offset, size: e.size }]));
  for (const read of planPackReads(pack.live, { lookup: (digest) => here.get(digest), size: here.size }).reads) {
    const bytes = await backend.getRange(packKey(pack.id), read.offset, read.length).catch(undefinedIfNotFound);
    for (const entry of read.chunks) {
      const chunk = bytes?.subarray(entry.offset - read.offset, entry.offset - read.offset + entry.size);
      if (chunk?.length === entry.size && (await digestOf(chunk)) === entry.digest) await writer.add(entry.digest, chunk);
      else damaged.add(pack.id);
    }
  }
}

export async function repackLive(backend: Backend, packs: PackVerdict[], pushId: string, task: ProgressTask): Promise<Repacked> {
  const moved = new Map<Digest, PackedChunk>();
  let packsWritten = 0;
  let bytesWritten = 0;
  const listener = {
    learn(pack: string, entries: PackEntry[]): void {
      packsWritten++;
      for (const { digest, offset, size } of entries) {
        moved.set(digest, { pack, offset, size });
        bytesWritten += size;
      }
    },
  };
  const writer = new PackWriter(backend, listener, pushId);
  const damaged = new Set<string>();
  for (const pack of packs) {
    await copyPack(backend, pack, writer, damaged);
    task.advance(pack.liveBytes);
  }
  const shards = await writer.finish();
  return { moved, shards, damaged, packsWritten, bytesWritten };
}
