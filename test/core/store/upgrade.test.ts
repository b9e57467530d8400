import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Backend } from '../../../src/backends/backend.js';
import { LocalBackend } from '../../../src/backends/local.js';
import { DEFAULT_CHUNKING } from '../../../src/core/chunking/chunker.js';
import { digestFromHex, type Digest } from '../../../src/core/format/digest.js';
import { MANIFEST_MEDIA_TYPE, type Manifest } from '../../../src/core/format/manifest.js';
import { keyObjectKey } from '../../../src/core/store/keys.js';
import { Repository } from '../../../src/core/store/repository.js';
import { upgradeRepository } from '../../../src/core/store/upgrade.js';
import { ConflictError } from '../../../src/lib/errors.js';

const folders: string[] = [];
afterEach(async () => Promise.all(folders.splice(0).map((f) => rm(f, { recursive: true, force: true }))));

const digest = (prefix: string, n: number): Digest => digestFromHex(`${prefix}${n.toString(16).padStart(64 - prefix.length, '0')}`);
const PACK = 'a'.repeat(32);
const FIRST = '1'.repeat(32);
const SECOND = '2'.repeat(32);

/** A packed repository whose two index files name key chunks (00...) among others; FIRST and SECOND share one. */
async function packedRepository(wrap: (backend: Backend) => Backend = (b) => b): Promise<{ root: string; repo: Repository }> {
  const root = await mkdtemp(join(tmpdir(), 'aim-upgrade-'));
  folders.push(root);
  await writeFile(join(root, 'aim-repo.json'), JSON.stringify({ format: 2, hash: 'blake3', chunking: DEFAULT_CHUNKING, createdAt: '2026-01-01T00:00:00Z' }));
  await mkdir(join(root, 'index'));
  const entries = (keys: number[]) => [...keys.map((n, i) => [digest('00', n), i * 10, 10]), [digest('ab', keys[0]!), 500, 10]];
  await writeFile(join(root, 'index', `${FIRST}.json`), JSON.stringify({ format: 1, packs: { [PACK]: entries([1, 2, 3]) } }));
  await writeFile(join(root, 'index', `${SECOND}.json`), JSON.stringify({ format: 1, packs: { ['b'.repeat(32)]: entries([3, 4]) } }));
  return { root, repo: new Repository('r', wrap(new LocalBackend(root))) };
}

const keyNames = async (root: string, chunk: Digest): Promise<string> => readFile(join(root, keyObjectKey(chunk)), 'utf8');

describe('upgradeRepository: key objects', () => {
  it('writes one per key chunk of every index file, naming the first file that lists it; a second run writes none', async () => {
    const { root, repo } = await packedRepository();
    const result = await upgradeRepository(repo);
    expect(result).toMatchObject({ versionsMapped: 0, alreadyMapped: 0, failed: [], keysWritten: 4 });
    for (const n of [1, 2, 3]) expect(await keyNames(root, digest('00', n))).toBe(`${FIRST}\n`);
    expect(await keyNames(root, digest('00', 4))).toBe(`${SECOND}\n`);
    expect(await readdir(join(root, 'keys'))).toEqual(['00']);
    expect((await upgradeRepository(repo)).keysWritten).toBe(0);
  });

  it('rewrites a key object that names an index file that is gone or does not read, keeps one naming another file', async () => {
    const { root, repo } = await packedRepository();
    await upgradeRepository(repo);
    await writeFile(join(root, keyObjectKey(digest('00', 1))), `${'9'.repeat(32)}\n`);
    await writeFile(join(root, keyObjectKey(digest('00', 2))), '../../etc/passwd');
    await writeFile(join(root, keyObjectKey(digest('00', 3))), `${SECOND}\n`);
    expect((await upgradeRepository(repo)).keysWritten).toBe(2);
    expect(await keyNames(root, digest('00', 1))).toBe(`${FIRST}\n`);
    expect(await keyNames(root, digest('00', 2))).toBe(`${FIRST}\n`);
    expect(await keyNames(root, digest('00', 3))).toBe(`${SECOND}\n`);
  });

  it('stops, writing no map, when chunks are removed from the repository while it runs', async () => {
    let reads = 0;
    const { root, repo } = await packedRepository((backend) => {
      const racing = Object.create(backend) as Backend;
      // The second look at the removal mark (right before the first map is written) sees a repair's new mark.
      racing.get = async (key, maxBytes) => {
        if (key === 'removals' && ++reads === 2) await backend.put('removals', Buffer.from('repaired meanwhile\n'));
        return backend.get(key, maxBytes);
      };
      return racing;
    });
    const chunk = { digest: digest('00', 1), size: 10 };
    const manifest: Manifest = {
      schemaVersion: 1,
      mediaType: MANIFEST_MEDIA_TYPE,
      files: [{ path: 'a', size: 10, mode: 0o644, digest: chunk.digest, chunks: [chunk] }],
      annotations: {},
    };
    const { digest: version } = await repo.putManifest(manifest);
    await repo.putTag('m', 'v1', { digest: version, pushedAt: '2026-01-01T00:00:00Z', size: 10, files: 1 });
    await expect(upgradeRepository(repo)).rejects.toThrow(ConflictError);
    await expect(readdir(join(root, 'locations'))).rejects.toThrow(/ENOENT/);
    reads = 10;
    expect(await upgradeRepository(repo)).toMatchObject({ versionsMapped: 1, failed: [] });
  });

  it('does nothing to a repository without packs', async () => {
    const root = await mkdtemp(join(tmpdir(), 'aim-upgrade-'));
    folders.push(root);
    const notes: string[] = [];
    expect(await upgradeRepository(new Repository('r', new LocalBackend(root)), { note: (line) => notes.push(line) })).toMatchObject({ versionsMapped: 0, keysWritten: 0 });
    expect(notes).toEqual(['r has no packs: there is nothing to upgrade']);
    expect(await readdir(root)).toEqual([]);
  });
});
