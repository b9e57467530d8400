// One file from the hub, chunked and hashed as it arrives: the bytes go straight from the reply into content-defined
// chunks for the push (BLAKE3, packs) and into the sha256 the hub publishes, with no copy of the file on disk. Every
// `checkpointBytes` the push makes what it has durable and the journal records it; a rerun after kill -9 reads those
// chunks back from the repository (checked against their digests) to carry the sha256 on, and asks the hub only for
// the rest (Range: bytes=N-). The declared size bounds what is read: a server that sends more is cut off.
import { createHash, type Hash } from 'node:crypto';
import { IntegrityError, StorageError } from '../../lib/errors.js';
import type { Chunker } from '../chunking/chunker.js';
import type { StreamStore } from '../transfer/push-stream.js';
import { resolvePath, type HubFile } from './hub-api.js';
import { idleBounded, type HubHttp, type HubReply } from './hub-http.js';
import { readJournal, removeJournal, writeJournal } from './hub-journal.js';

/** Room for two of the largest chunks, so one can always be cut while the next bytes arrive. */
const WINDOW_BYTES = 8 * 1024 * 1024;

export interface HubFileDownload {
  http: HubHttp;
  repo: string;
  file: HubFile;
  journal: string;
  checkpointBytes: number;
  /** Told the count of each part received from the hub. */
  received: (bytes: number) => void;
}

export async function* hubFileChunks(download: HubFileDownload, store: StreamStore): AsyncGenerator<Buffer> {
  const { file, journal } = download;
  const sha = createHash('sha256');
  let offset = 0;
  for (const chunk of await readJournal(journal, file)) {
    if (!(await store.stored(chunk))) break; // past here the killed run's chunks did not all reach the repository
    const bytes = await store.read(chunk);
    sha.update(bytes);
    offset += bytes.length;
    yield bytes;
  }
  let sinceCheckpoint = 0;
  if (offset < file.size) {
    const body = receive(download, await request(download, offset), offset, sha);
    for await (const chunk of cutStream(body, store.chunker, offset)) {
      offset += chunk.length;
      sinceCheckpoint += chunk.length;
      yield chunk;
      if (sinceCheckpoint >= download.checkpointBytes && offset < file.size) {
        await writeJournal(journal, file, await store.checkpoint());
        sinceCheckpoint = 0;
      }
    }
  }
  await checkWhole(download, offset, sha);
}

async function checkWhole({ repo, file, journal }: HubFileDownload, size: number, sha: Hash): Promise<void> {
  if (size !== file.size) {
    throw new StorageError(`the download of ${repo}/${file.name} ended at ${size} of ${file.size} bytes`, { hint: 'run the command again: it resumes where it stopped' });
  }
  const digest = sha.digest('hex');
  if (file.sha256 && digest !== file.sha256) {
    await removeJournal(journal); // a rerun starts afresh rather than building on bytes that were wrong
    throw new IntegrityError(`${repo}/${file.name} does not match the sha256 the hub publishes (got ${digest}, expected ${file.sha256})`, {
      hint: 'nothing was installed; run the command again to download it afresh, or report the repository',
    });
  }
}

/** GET the file from `offset` on; a server that ignores the Range answers 200 with the whole file. */
async function request({ http, repo, file }: HubFileDownload, offset: number): Promise<{ reply: HubReply; skip: number }> {
  const reply = await http.get(http.url(resolvePath(repo, file.name)), offset > 0 ? { range: `bytes=${offset}-` } : {});
  http.checkStatus(reply, `${repo}/${file.name}`);
  if (offset === 0 || reply.status === 200) return { reply, skip: offset };
  if (reply.status === 206 && rangeStart(reply, file.size) === offset) return { reply, skip: 0 };
  reply.abort();
  throw new StorageError(`${reply.url.origin} answered the Range request for ${repo}/${file.name} with other bytes (HTTP ${reply.status}, ${reply.headers.get('content-range') ?? 'no Content-Range'})`, {
    hint: 'run the command again; if it persists, check HF_ENDPOINT',
  });
}

/** Where a 206 reply's Content-Range starts, when it is "bytes START-END/TOTAL" for this file. */
function rangeStart(reply: HubReply, total: number): number | undefined {
  const match = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(reply.headers.get('content-range') ?? '');
  if (!match || Number(match[3]) !== total || Number(match[2]) !== total - 1) return undefined;
  return Number(match[1]);
}

/** The reply's bytes past those already stored (`skip` of them come again from a server that ignored the Range). */
async function* receive(download: HubFileDownload, { reply, skip }: { reply: HubReply; skip: number }, offset: number, sha: Hash): AsyncGenerator<Uint8Array> {
  let position = offset - skip;
  for await (const received of idleBounded(reply)) {
    download.received(received.byteLength);
    const part = position < offset ? received.subarray(Math.min(received.byteLength, offset - position)) : received;
    position += received.byteLength;
    if (position > download.file.size) {
      reply.abort();
      throw new IntegrityError(`${download.repo}/${download.file.name} is longer than the ${download.file.size} bytes the hub declares`, {
        hint: 'nothing was installed; report the repository or check HF_ENDPOINT',
      });
    }
    if (part.byteLength === 0) continue;
    sha.update(part); // before the chunk holding these bytes may be handed to a hashing thread
    yield part;
  }
}

/**
 * The content-defined chunks of a stream that starts at file offset `start` (a chunk boundary): the same cuts
 * readChunks makes of the whole file, each chunk a Buffer of its own.
 */
export async function* cutStream(parts: AsyncIterable<Uint8Array>, chunker: Chunker, start: number): AsyncGenerator<Buffer> {
  const window = Buffer.allocUnsafe(Math.max(WINDOW_BYTES, 2 * chunker.params.maxSize));
  let filled = 0;
  let position = 0;
  let windowOffset = start;
  function* cut(ended: boolean): Generator<Buffer> {
    while (position < filled) {
      // A cut looks at most its chunker's maxSize bytes ahead (the head's is smaller): with that many, it is final.
      const here = chunker.at(windowOffset + position);
      if (!ended && filled - position < here.params.maxSize) return;
      const length = here.cut(window, position, filled);
      yield Buffer.from(window.subarray(position, position + length));
      position += length;
    }
  }
  for await (const part of parts) {
    for (let used = 0; used < part.byteLength; ) {
      if (filled === window.length) {
        // Less than a chunk's worth stays uncut: move it to the front to make room.
        window.copyWithin(0, position, filled);
        windowOffset += position;
        filled -= position;
        position = 0;
      }
      const count = Math.min(part.byteLength - used, window.length - filled);
      window.set(part.subarray(used, used + count), filled);
      filled += count;
      used += count;
      yield* cut(false);
    }
  }
  yield* cut(true);
}
