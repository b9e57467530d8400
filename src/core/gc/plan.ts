import type { Digest } from '../format/digest.js';
import type { PackedChunk, PackEntry } from '../store/packs.js';
import { liveChunks } from './roots.js';
import type { Survey } from './survey.js';

// What gc would remove, decided from one survey. A pack no live chunk is in goes; a pack partly alive is repacked
// (its live chunks copied into new packs, then it goes) when the repository's waste is past `maxUnused` percent,
// most wasteful packs first, as restic's prune does; packs younger than the grace period and packs of pushes still
// pending are never touched. A chunk stored twice (two pushes racing) lives in one pack only, the first the index
// names, so its other copies count as waste.

export interface PackVerdict {
  id: string;
  size: number;
  /** The live chunks whose copy gc keeps is in this pack: what a repack copies. */
  live: PackEntry[];
  liveBytes: number;
  /** Chunk bytes no live version uses (its footer is not waste: a new pack has one too). */
  unused: number;
}

export interface GcPlan {
  deletePacks: PackVerdict[];
  repackPacks: PackVerdict[];
  /** Packs left as they are: alive enough, young, or of a pending push. */
  keptPacks: number;
  deleteManifests: Digest[];
  /** Maps of versions no root reaches. */
  deleteMaps: Digest[];
  /** Versions no root reaches (removed by gc, or never stored) whose signature objects go. */
  deleteSignatures: Digest[];
  /** Those signature objects' keys. */
  signatureKeys: string[];
  /** Index files naming a pack that goes: each is replaced by one without it. */
  indexFiles: string[];
  /** Packs and manifests left alone for being younger than the grace period. */
  young: { packs: number; manifests: number };
  /** Where each live chunk is kept, before any repack. */
  homes: Map<Digest, PackedChunk>;
  bytes: { deleted: number; repacked: number; copied: number; manifests: number; maps: number; signatures: number; reclaimed: number; unusedLeft: number };
}

export interface PlanOptions {
  maxUnusedPercent: number;
  /** When set, only these packs may go (those a gc record names: the second look after writing it). */
  allowed?: ReadonlySet<string>;
  /**
   * When set, only these versions' manifests and maps may go (those unreached at the first look): a push that
   * wrote its manifest after that look may be about to write its tag, after the second look listed the tags.
   */
  allowedVersions?: ReadonlySet<Digest>;
}

/** Every pack's entries from all index files, and the pack each live chunk is kept in. */
function packContents(survey: Survey, live: Map<Digest, number>): { entries: Map<string, PackEntry[]>; homes: Map<Digest, PackedChunk> } {
  const entries = new Map<string, PackEntry[]>();
  const homes = new Map<Digest, PackedChunk>();
  // index.files is in the index's fixed order, so the copy kept is the one pulls without a map read.
  for (const packs of survey.index.files.values()) {
    for (const [pack, list] of packs) {
      if (!survey.packs.has(pack)) continue; // named, not stored: verify's business
      entries.set(pack, [...(entries.get(pack) ?? []), ...list]);
      for (const { digest, offset, size } of list) if (live.get(digest) === size && !homes.has(digest)) homes.set(digest, { pack, offset, size });
    }
  }
  return { entries, homes };
}

function liveIn(pack: string, entries: PackEntry[], homes: Map<Digest, PackedChunk>): PackEntry[] {
  const seen = new Set<Digest>();
  return entries.filter((entry) => {
    const home = homes.get(entry.digest);
    return home?.pack === pack && home.offset === entry.offset && !seen.has(entry.digest) && seen.add(entry.digest);
  });
}

export function planGc(survey: Survey, options: PlanOptions): GcPlan {
  const live = liveChunks(survey.roots.versions.values());
  const { entries, homes } = packContents(survey, live);
  const deletePacks: PackVerdict[] = [];
  const partial: Array<PackVerdict & { mayGo: boolean }> = [];
  let keptPacks = 0;
  let keptBytes = 0;
  for (const [id, info] of survey.packs) {
    const judged = !survey.young(info) && !survey.pending.has(id.slice(0, 16));
    const mayGo = judged && (!options.allowed || options.allowed.has(id));
    const liveEntries = liveIn(id, entries.get(id) ?? [], homes);
    const liveBytes = liveEntries.reduce((sum, e) => sum + e.size, 0);
    const chunkArea = (entries.get(id) ?? []).reduce((end, e) => Math.max(end, e.offset + e.size), 0);
    const verdict = { id, size: info.size, live: liveEntries, liveBytes, unused: Math.max(0, chunkArea - liveBytes) };
    if (mayGo && liveEntries.length === 0) deletePacks.push(verdict);
    else {
      keptPacks++;
      keptBytes += info.size;
      if (judged) partial.push({ ...verdict, mayGo });
    }
  }
  const repackPacks = chooseRepacks(partial, keptBytes, options.maxUnusedPercent);
  keptPacks -= repackPacks.length;
  const removed = new Set([...deletePacks, ...repackPacks].map((p) => p.id));
  const indexFiles = [...survey.index.files].filter(([, packs]) => [...packs.keys()].some((pack) => removed.has(pack))).map(([id]) => id);
  const oldUnreached = <T>(listed: Map<Digest, T & { size: number; modified?: number }>) =>
    [...listed]
      .filter(([digest, info]) => !survey.roots.versions.has(digest) && !survey.young(info) && (!options.allowedVersions || options.allowedVersions.has(digest)))
      .map(([digest]) => digest);
  const deleteManifests = oldUnreached(survey.manifests);
  const deleteMaps = oldUnreached(survey.maps);
  const deleteSignatures = oldUnreached(survey.signatures);
  const sum = (list: PackVerdict[], of: (p: PackVerdict) => number) => list.reduce((total, p) => total + of(p), 0);
  const bytes = {
    deleted: sum(deletePacks, (p) => p.size),
    repacked: sum(repackPacks, (p) => p.size),
    copied: sum(repackPacks, (p) => p.liveBytes),
    manifests: deleteManifests.reduce((total, d) => total + survey.manifests.get(d)!.size, 0),
    maps: deleteMaps.reduce((total, d) => total + survey.maps.get(d)!.size, 0),
    signatures: deleteSignatures.reduce((total, d) => total + survey.signatures.get(d)!.size, 0),
    reclaimed: 0,
    unusedLeft: sum(partial.filter((p) => !repackPacks.some((r) => r.id === p.id)), (p) => p.unused),
  };
  bytes.reclaimed = bytes.deleted + bytes.repacked - bytes.copied + bytes.manifests + bytes.maps + bytes.signatures;
  const signatureKeys = deleteSignatures.flatMap((digest) => survey.signatures.get(digest)!.keys);
  const young = {
    packs: [...survey.packs.values()].filter((info) => survey.young(info)).length,
    manifests: [...survey.manifests.values()].filter((info) => survey.young(info)).length,
  };
  return { deletePacks, repackPacks, keptPacks, deleteManifests, deleteMaps, deleteSignatures, signatureKeys, indexFiles, young, homes, bytes };
}

/**
 * The partly alive packs to repack, most waste first, until the waste left is at most `maxUnusedPercent` of what the
 * repository's packs then hold.
 */
function chooseRepacks(partial: Array<PackVerdict & { mayGo: boolean }>, keptBytes: number, maxUnusedPercent: number): PackVerdict[] {
  let unused = partial.reduce((total, p) => total + p.unused, 0);
  const byWaste = partial.filter((p) => p.mayGo && p.unused > 0).sort((a, b) => b.unused - a.unused);
  let total = keptBytes;
  const chosen: PackVerdict[] = [];
  for (const { mayGo: _, ...pack } of byWaste) {
    if (unused <= (maxUnusedPercent / 100) * total) break;
    chosen.push(pack);
    unused -= pack.unused;
    total -= pack.unused;
  }
  return chosen;
}
