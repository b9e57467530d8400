import { openRegular } from '../../lib/safe-fs.js';
import type { HashPool } from '../hashing/hash-pool.js';
import type { Digest } from '../format/digest.js';
import type { ManifestFile } from '../format/manifest.js';

/** True when the file at `path` has exactly the manifest's bytes (size first, then a full BLAKE3 read). */
export async function verifyFileOnDisk(path: string, file: Pick<ManifestFile, 'size' | 'digest'>, pool: HashPool): Promise<boolean> {
  return (await digestOnDisk(path, [file.size], pool)) === file.digest;
}

/**
 * The BLAKE3 of the regular file at `path`, read once, when its size is one of `sizes` (the contents it may be); else
 * undefined, with nothing read. A link, FIFO or device there is no file: undefined.
 */
export async function digestOnDisk(path: string, sizes: number[], pool: HashPool): Promise<Digest | undefined> {
  const handle = await openRegular(path).catch(() => undefined);
  if (!handle) return undefined;
  try {
    const info = await handle.stat();
    if (!info.isFile() || !sizes.includes(info.size)) return undefined;
    const digester = await pool.fileDigester();
    const buffer = Buffer.allocUnsafe(4 * 1024 * 1024);
    for (let offset = 0; offset < info.size; ) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
      if (bytesRead === 0) return undefined;
      await digester.update(buffer.subarray(0, bytesRead));
      offset += bytesRead;
    }
    return await digester.digest();
  } finally {
    await handle.close();
  }
}
