import { createWriteStream } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { syncFile, tempPathFor } from '../../lib/atomic-write.js';

/**
 * Runs `write` into a new temp file beside `path` (created exclusively) and renames it into place only once every
 * byte is written and synced: an export stopped midway (an error, Ctrl-C) never leaves a half tar under the name a
 * user asked for. `write` resolves once the stream has taken its last byte and closed.
 */
export async function writeFileThrough<T>(path: string, write: (out: Writable) => Promise<T>): Promise<T> {
  const temp = tempPathFor(path);
  const out = createWriteStream(temp, { flags: 'wx', mode: 0o644 });
  try {
    const result = await write(out);
    await syncFile(temp);
    await rename(temp, path);
    return result;
  } catch (error) {
    out.destroy();
    await unlink(temp).catch(() => undefined);
    throw error;
  }
}
