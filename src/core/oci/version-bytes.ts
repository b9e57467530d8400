import { createDigester } from '../format/digest.js';
import type { ManifestFile } from '../format/manifest.js';
import type { ChunkLocations } from '../store/packs.js';
import type { Repository } from '../store/repository.js';
import { IntegrityError } from '../../lib/errors.js';

/** Chunks fetched ahead of the one being written: hides a request's latency on S3, bounds memory at this many chunks. */
const READ_AHEAD = 4;

/**
 * A version's file as it is read from the repository, chunk by chunk, each chunk checked against its BLAKE3 before it
 * is yielded, and the whole file checked against its own digest at the end. Memory holds READ_AHEAD chunks at most,
 * whatever the file's size.
 */
export async function* verifiedFileBytes(repo: Repository, file: ManifestFile, locations: ChunkLocations): AsyncGenerator<Buffer> {
  const whole = await createDigester();
  const pending: Array<Promise<Buffer>> = [];
  let next = 0;
  const fill = (): void => {
    while (pending.length < READ_AHEAD && next < file.chunks.length) {
      const { digest, size } = file.chunks[next++]!;
      const read = repo.getChunk(digest, locations, size);
      read.catch(() => undefined); // awaited below in order; a failure ahead of the current chunk must not go unhandled
      pending.push(read);
    }
  };
  try {
    fill();
    while (pending.length > 0) {
      const bytes = await pending.shift()!;
      fill();
      whole.update(bytes);
      yield bytes;
    }
  } finally {
    pending.length = 0;
  }
  const actual = whole.digest();
  if (actual !== file.digest) {
    throw new IntegrityError(`file ${file.path} of repository ${repo.name} reads as ${actual}, not its manifest's ${file.digest}`, {
      hint: `run \`aim verify ${repo.name}\`; push the version again from a good copy to repair it`,
    });
  }
}
