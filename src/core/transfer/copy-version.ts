import { isDeepStrictEqual } from 'node:util';
import type { Digest } from '../format/digest.js';
import type { ProgressSink } from '../progress.js';
import { writeLocationMap, locationMapKey } from '../store/locations.js';
import { PackWriter } from '../store/pack-writer.js';
import { adoptPendingPacks, deletePendingRecords, newPushId } from '../store/pending.js';
import { PushLocations } from '../store/push-locations.js';
import { copySignatures } from '../signing/signature-store.js';
import type { TrustedKey } from '../signing/policy.js';
import { manifestKey, PACKED_FORMAT, type Repository } from '../store/repository.js';
import { refreshIndex } from '../store/repo-index.js';
import { updateTags, type TagOutcome } from '../store/tags.js';
import { checkNoGcRemoved } from '../gc/gc-race.js';
import { condemnedPacks, readGcRecords } from '../gc/gc-records.js';
import { copyChunks, type ChunkCopy, type ChunkSink } from './copy-chunks.js';

// One version from one repository to another, in a push's write order: the chunks the destination lacks (in packs,
// under a pending record, so a killed copy is resumed by the next copy or push), the index shards and key objects,
// the location map, the manifest byte for byte (so its digest is the same), then the tags.

export interface CopiedVersion extends ChunkCopy {
  digest: Digest;
  tags: Array<{ tag: string; outcome: TagOutcome }>;
  /** Key ids whose signatures of the version came along. */
  signatures: string[];
}

export interface VersionCopy {
  source: Repository;
  destination: Repository;
  digest: Digest;
  model: string;
  tags: string[];
  force: boolean;
  progress: ProgressSink;
  /** Keys trusted for either repository: their signatures must verify to come along; a source that cannot list (a web server) is asked for theirs by name. */
  trustedKeys?: readonly TrustedKey[];
}

export async function copyVersion(job: VersionCopy): Promise<CopiedVersion> {
  const { source, destination: dst, digest, progress } = job;
  // The exact bytes, checked against the digest: stored as they are, the version keeps its digest.
  const { bytes, manifest } = await source.readManifest(digest);
  const where = await source.locationsFor(digest, manifest, (why) => progress.note(why));
  const size = manifest.files.reduce((sum, file) => sum + file.size, 0);
  const task = progress.begin(`copying ${digest.slice(0, 19)} to ${dst.name}/${job.model}`, size);
  const packed = (await dst.metadata())?.format === PACKED_FORMAT;
  const records = packed ? await readGcRecords(dst.backend) : [];
  const locations = packed ? new PushLocations(dst, job.model, (message) => progress.note(message)) : undefined;
  locations?.avoid(condemnedPacks(records));
  const pushId = newPushId();
  const writer = locations && new PackWriter(dst.backend, locations, pushId, await adoptPendingPacks(dst.backend, pushId));
  const sink: ChunkSink = locations && writer
    ? { has: (chunk, chunkSize) => locations.has(chunk, chunkSize), add: (chunk, data) => writer.add(chunk, data) }
    : { has: (chunk, chunkSize) => dst.hasChunk(chunk, chunkSize), add: async (chunk, data) => void (await dst.putBlob(chunk, data)) };
  // A version already there (under another model, say) vouches for its own chunks.
  const stored = await dst.hasManifest(digest);
  if (stored) await locations?.locateAll(manifest, [digest]);
  let copied: ChunkCopy;
  try {
    copied = await copyChunks(source, where, manifest, sink, task);
    await writer?.finish();
  } catch (error) {
    await writer?.salvage();
    throw error;
  } finally {
    task.end();
  }
  if (locations && !(stored && (await dst.backend.stat(locationMapKey(digest))))) {
    const mapped = (await locations.locateAll(manifest, stored ? [digest] : [])) && (await writeLocationMap(dst.backend, digest, manifest, (c) => locations.lookup(c)));
    if (!mapped) progress.note(`could not locate every chunk of version ${digest} in ${dst.name}: it is copied without a location map`);
  }
  if (!stored) await dst.backend.putIfAbsent(manifestKey(digest), bytes);
  // Before the tags move, so a pull under a trust policy never finds the copied tag without its signatures.
  const signatures = await copySignatures(source, dst, { model: job.model, digest, manifest }, job.trustedKeys ?? [], (why) => progress.note(why));
  const tags: CopiedVersion['tags'] = [];
  const record = { digest, pushedAt: new Date().toISOString(), size, files: manifest.files.length };
  for (const tag of job.tags) tags.push({ tag, outcome: await updateTags(dst, job.model, tag, record, job.force) });
  if (locations) await checkNoGcRemoved(dst, digest, manifest, new Set(records.map((r) => r.key)), (c) => locations.lookup(c));
  await refreshIndex(dst, job.model);
  if (writer) await deletePendingRecords(dst.backend, [pushId, ...writer.adoptedPushIds]).catch(() => undefined);
  return { digest, tags, signatures, ...copied };
}

/** Whether two repositories cut files alike: if not, versions copied still pull, but later pushes dedupe less. */
export async function sameChunking(source: Repository, destination: Repository): Promise<boolean> {
  const [a, b] = await Promise.all([source.metadata(), destination.metadata()]);
  return isDeepStrictEqual(a?.chunking, b?.chunking);
}
