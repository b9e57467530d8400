// What a download from the hub has durably stored so far, so that a run killed with kill -9 resumes there: one small
// file per hub file under AIM_HOME/hub-downloads/MODEL/TAG, listing the chunks (digest, size) of the file's first
// bytes that reached stored packs, rewritten atomically at each checkpoint. It holds no content: the bytes are in aim's
// hub repository. AIM_HOME may hold anything: the journal is read as a bounded regular file and checked with a
// schema, and whatever it says is checked again against the repository before a byte of it is trusted.
import * as v from 'valibot';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConflictError, StorageError } from '../../lib/errors.js';
import { writeAtomic } from '../../lib/atomic-write.js';
import { readRegularFile, readRegularFileIfExists, realFolder } from '../../lib/safe-fs.js';
import { isAlive } from '../../serving/process-utils.js';
import { DEFAULT_CHUNKING } from '../chunking/chunker.js';
import { isDigest, type Digest } from '../format/digest.js';
import type { ChunkRef } from '../format/manifest.js';
import type { HubFile } from './hub-api.js';

/** An entry is about 85 bytes: ["blake3:<64 hex>",131072]. */
const MAX_JOURNAL_BYTES_PER_CHUNK = 100;
/**
 * The hub repository's smallest chunk (DEFAULT_CHUNKING's head) but for a file's last: a journal with more entries
 * than the file can hold chunks is not aim's, and is not read.
 */
const MIN_CHUNK = DEFAULT_CHUNKING.head!.minSize;

const JOURNAL = v.object({
  sha256: v.string(),
  size: v.number(),
  chunks: v.array(v.tuple([v.custom<Digest>(isDigest), v.pipe(v.number(), v.integer(), v.minValue(1))])),
});

/** AIM_HOME/hub-downloads/MODEL/TAG, made if missing; a link or a file anywhere on the way is refused. */
export function downloadsFolder(home: string, model: string, tag: string): Promise<string> {
  return realFolder(home, ['hub-downloads', model, tag], { create: true });
}

/** One journal per hub file, named so that a file in a subfolder of the hub repository stays one level deep. */
export function journalPath(folder: string, file: HubFile): string {
  return join(folder, `${encodeURIComponent(file.name)}.chunks`);
}

/**
 * The chunks a killed run stored of `file`, in order; none when there is no journal or it is for other content
 * (the hub's sha256 changed). A journal that is not a regular file, or not aim's, is refused plainly.
 */
export async function readJournal(path: string, file: HubFile): Promise<ChunkRef[]> {
  const max = 1024 + (Math.ceil(file.size / MIN_CHUNK) + 1) * MAX_JOURNAL_BYTES_PER_CHUNK;
  const bytes = await readRegularFileIfExists(path, max);
  if (!bytes) return [];
  let parsed: v.InferOutput<typeof JOURNAL>;
  try {
    parsed = v.parse(JOURNAL, JSON.parse(bytes.toString('utf8')));
  } catch {
    throw new StorageError(`${path} is not a download journal aim wrote`, { hint: 'delete it: the download then starts from the beginning' });
  }
  if (parsed.sha256 !== file.sha256 || parsed.size !== file.size) return [];
  let total = 0;
  const chunks: ChunkRef[] = [];
  for (const [digest, size] of parsed.chunks) {
    total += size;
    if (total > file.size) break; // more than the file holds: only what fits in it is considered
    chunks.push({ digest, size });
  }
  return chunks;
}

export async function writeJournal(path: string, file: HubFile, chunks: ChunkRef[]): Promise<void> {
  const journal = { sha256: file.sha256, size: file.size, chunks: chunks.map((c) => [c.digest, c.size]) };
  await writeAtomic(path, JSON.stringify(journal));
}

export async function removeJournal(path: string): Promise<void> {
  await rm(path, { force: true });
}

/**
 * Two runs storing one download would each append their chunks to the journal: the first takes `path`.lock with its
 * pid; a later one fails plainly while that process lives, and takes over a lock whose process is gone (killed runs
 * leave theirs). The lock is made with O_EXCL, which never follows a link planted at its name.
 */
export async function lockDownload(path: string, what: string): Promise<() => Promise<void>> {
  const lock = `${path}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(lock, String(process.pid), { flag: 'wx' });
      return () => rm(lock, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number((await readRegularFile(lock, 32).catch(() => Buffer.alloc(0))).toString('utf8'));
    if (Number.isInteger(holder) && holder > 1 && holder !== process.pid && isAlive(holder)) {
      throw new ConflictError(`another aim (pid ${holder}) is downloading ${what}`, { hint: 'wait for it to finish, then run the command again: it will find the model downloaded' });
    }
    // A stale lock, or something planted at its name: a link is removed (never its target), a folder refused.
    await rm(lock, { force: true }).catch(() => {
      throw new StorageError(`${lock} is in the way and cannot be removed`, { hint: 'remove it, then run the command again' });
    });
  }
  throw new ConflictError(`could not take ${lock}`, { hint: 'another aim is downloading the same file; run the command again' });
}
