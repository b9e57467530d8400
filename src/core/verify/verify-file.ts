import { openRegular } from '../../lib/safe-fs.js';
import type { HashPool } from '../hashing/hash-pool.js';
import type { ManifestFile } from '../format/manifest.js';

/** True when the file at `path` has exactly the manifest's bytes (size first, then a full BLAKE3 read). */
export async function verifyFileOnDisk(path: string, file: Pick<ManifestFile, 'size' | 'digest'>, pool: HashPool): Promise<boolean> {
  const handle = await openRegular(path).catch(() => undefined); // a link, FIFO or device is not the file
  if (!handle) return false;
  try {
    const info = await handle.stat();
    if (!info.isFile() || info.size !== file.size) return false;
    const digester = await pool.fileDigester();
    const buffer = Buffer.allocUnsafe(4 * 1024 * 1024);
    for (let offset = 0; offset < file.size; ) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
      if (bytesRead === 0) return false;
      await digester.update(buffer.subarray(0, bytesRead));
      offset += bytesRead;
    }
    return (await digester.digest()) === file.digest;
  } finally {
    await handle.close();
  }
}
