import { openRegular } from '../../lib/safe-fs.js';
import type { Chunker } from './chunker.js';

// Reads a file once, through one reused window, and yields its content-defined chunks. Each yielded chunk is its
// own small Buffer (a copy out of the window) so it can be handed to a hashing worker and an upload while the
// window is refilled; memory stays at the window plus the chunks the caller keeps in flight. Only a regular file is
// read, never through a link at its name: what the walk saw may have been swapped since.

const WINDOW_SIZE = 16 * 1024 * 1024;

export async function* readChunks(path: string, chunker: Chunker): AsyncGenerator<Buffer> {
  const maxSize = chunker.params.maxSize;
  const handle = await openRegular(path);
  try {
    // A small file gets a window of its own size: allocating 16 MiB per file makes pushing thousands of small
    // files spend its time in the garbage collector.
    const { size } = await handle.stat();
    const window = Buffer.allocUnsafe(Math.min(Math.max(WINDOW_SIZE, 2 * maxSize), size + 1));
    let filled = 0;
    let position = 0;
    /** Where the window starts in the file. */
    let windowOffset = 0;
    let ended = false;
    while (!ended || position < filled) {
      if (!ended) {
        const { bytesRead } = await handle.read(window, filled, window.length - filled, null);
        if (bytesRead === 0) ended = true;
        filled += bytesRead;
      }
      // Cut while a whole maximum-size chunk is available (or the file has ended).
      while (position < filled && (ended || filled - position >= maxSize)) {
        const length = chunker.at(windowOffset + position).cut(window, position, filled);
        yield Buffer.from(window.subarray(position, position + length));
        position += length;
      }
      if (position > 0 && !ended) {
        window.copyWithin(0, position, filled);
        windowOffset += position;
        filled -= position;
        position = 0;
      }
    }
  } finally {
    await handle.close();
  }
}

/** The content-defined chunks of a whole file already in memory, as views of it: the same cuts readChunks makes. */
export function* cutChunks(bytes: Buffer, chunker: Chunker): Generator<Buffer> {
  for (let position = 0; position < bytes.length; ) {
    const length = chunker.at(position).cut(bytes, position, bytes.length);
    yield bytes.subarray(position, position + length);
    position += length;
  }
}
