import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

// Bytes on disk (allocated blocks, not file lengths: a sparse or compressed file costs what it costs), each file
// counted once however many names it has: a chunk hard-linked into two installed versions is paid for once.

export interface DiskUse {
  /** Per folder, the files in it counted once. */
  perFolder: Map<string, number>;
  /** Every folder together, a file in several counted once. */
  total: number;
}

async function walk(folder: string, visit: (key: string, bytes: number) => void): Promise<void> {
  const entries = await readdir(folder, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    const path = join(folder, entry.name);
    // Links are not followed: what they point at is not this folder's to count.
    if (entry.isDirectory()) await walk(path, visit);
    else if (entry.isFile()) {
      const info = await lstat(path).catch(() => undefined);
      if (info) visit(`${info.dev}:${info.ino}`, info.blocks * 512);
    }
  }
}

export async function diskUse(folders: string[]): Promise<DiskUse> {
  const everywhere = new Set<string>();
  const use: DiskUse = { perFolder: new Map(), total: 0 };
  for (const folder of new Set(folders)) {
    const here = new Set<string>();
    let bytes = 0;
    await walk(folder, (key, size) => {
      if (!here.has(key)) (here.add(key), (bytes += size));
      if (!everywhere.has(key)) (everywhere.add(key), (use.total += size));
    });
    use.perFolder.set(folder, bytes);
  }
  return use;
}
