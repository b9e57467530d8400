import type { Backend } from '../../backends/backend.js';
import { undefinedIfNotFound } from '../../lib/not-found.js';
import { digestOf, type Digest } from '../format/digest.js';
import type { ProgressTask } from '../progress.js';
import { PackWriter } from '../store/pack-writer.js';
import { packKey, type PackedChunk, type PackEntry } from '../store/packs.js';
import type { PackVerdict } from './plan.js';

// Repacking copies the live chunks of partly alive packs into new packs, as a push stores chunks: a pending record
// first, the packs, then their index shards and key objects (PackWriter), so a gc killed half-way leaves packs the
// next push takes back like any killed push's. Every chunk is checked against its digest as it is read: a damaged
// one is not copied, and its pack is kept, so verify still finds it there.

/** Bytes read from a pack at once: neighbouring live chunks come in one ranged read. */
const READ_WINDOW = 8 * 1024 * 1024;

export interface Repacked {
  /** Where each copied chunk is now. */
  moved: Map<Digest, PackedChunk>;
  shards: Array<{ id: string; packs: Map<string, PackEntry[]> }>;
  /** Packs with a live chunk that is missing or damaged: kept. */
  damaged: Set<string>;
  packsWritten: number;
  bytesWritten: number;
}

/** The entries in runs of at most READ_WINDOW bytes (or one chunk), in offset order. */
function runsOf(entries: PackEntry[]): PackEntry[][] {
  const runs: PackEntry[][] = [];
  for (const entry of [...entries].sort((a, b) => a.offset - b.offset)) {
    const run = runs.at(-1);
    if (run && entry.offset + entry.size - run[0]!.offset <= READ_WINDOW) run.push(entry);
    else runs.push([entry]);
  }
  return runs;
}

async function copyPack(backend: Backend, pack: PackVerdict, writer: PackWriter, damaged: Set<string>): Promise<void> {
  for (const run of runsOf(pack.live)) {
    const start = run[0]!.offset;
    const last = run.at(-1)!;
    const bytes = await backend.getRange(packKey(pack.id), start, last.offset + last.size - start).catch(undefinedIfNotFound);
    for (const entry of run) {
      const chunk = bytes?.subarray(entry.offset - start, entry.offset - start + entry.size);
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
