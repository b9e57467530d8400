// Reading a local repository's own files from a test, to assert on what is stored without going through aim: which
// chunks the tagged versions name, and how many chunk bytes the packs hold (each pack's size less its footer).
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { listFiles } from './cli.js';

interface ManifestJson {
  files: Array<{ chunks: Array<{ digest: string; size: number }> }>;
}

export async function readManifest(repoDir: string, digest: string): Promise<ManifestJson> {
  const hex = digest.replace(/^blake3:/, '');
  return JSON.parse(await readFile(join(repoDir, 'manifests', 'blake3', hex.slice(0, 2), hex), 'utf8')) as ManifestJson;
}

/** The digests every tag of the repository names. */
export async function taggedDigests(repoDir: string): Promise<Set<string>> {
  const digests = new Set<string>();
  for (const file of await listFiles(join(repoDir, 'models'))) {
    digests.add((JSON.parse(await readFile(join(repoDir, 'models', file), 'utf8')) as { digest: string }).digest);
  }
  return digests;
}

/** Each distinct chunk of the versions, with its size. */
export async function chunksOf(repoDir: string, versions: Iterable<string>): Promise<Map<string, number>> {
  const chunks = new Map<string, number>();
  for (const digest of versions) {
    for (const file of (await readManifest(repoDir, digest)).files) for (const chunk of file.chunks) chunks.set(chunk.digest, chunk.size);
  }
  return chunks;
}

export const sumSizes = (chunks: Map<string, number>): number => [...chunks.values()].reduce((a, b) => a + b, 0);

/** Bytes of chunks in the packs on disk: each pack's size less its footer and the footer's length field. */
export async function packChunkBytes(repoDir: string): Promise<number> {
  let total = 0;
  for (const folder of await readdir(join(repoDir, 'packs')).catch(() => [] as string[])) {
    for (const name of await readdir(join(repoDir, 'packs', folder))) {
      const path = join(repoDir, 'packs', folder, name);
      const size = (await stat(path)).size;
      const handle = await open(path, 'r');
      const tail = Buffer.alloc(4);
      await handle.read(tail, 0, 4, size - 4);
      await handle.close();
      total += size - 4 - tail.readUInt32LE(0);
    }
  }
  return total;
}

/** Every file under the repository with its size and modification time: equal snapshots mean nothing changed. */
export async function snapshot(repoDir: string): Promise<Record<string, string>> {
  const entries: Record<string, string> = {};
  for (const file of await listFiles(repoDir)) {
    const info = await stat(join(repoDir, file));
    entries[file] = `${info.size}@${info.mtimeMs}`;
  }
  return entries;
}
