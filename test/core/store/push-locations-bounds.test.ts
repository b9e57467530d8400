// What a push holds of its model's earlier versions' location maps: the newest first, until a budget of chunks is
// learned, not every map of the newest 32 versions whatever their size (32 versions of a 140 GB model that share no
// chunks would be ~4.5 million entries, over a GiB).
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalBackend } from '../../../src/backends/local.js';
import { digestFromHex } from '../../../src/core/format/digest.js';
import { MANIFEST_MEDIA_TYPE, type Manifest } from '../../../src/core/format/manifest.js';
import { IndexCache } from '../../../src/core/store/index-cache.js';
import { writeLocationMap } from '../../../src/core/store/locations.js';
import { PushLocations } from '../../../src/core/store/push-locations.js';
import { Repository } from '../../../src/core/store/repository.js';

const folders: string[] = [];
afterEach(async () => Promise.all(folders.splice(0).map((f) => rm(f, { recursive: true, force: true }))));

const randomDigest = () => digestFromHex(`11${randomBytes(31).toString('hex')}`); // never a key chunk

describe('a push learning its model versions maps, bounded', () => {
  it('stops reading older versions maps once the budget of chunks is learned (at most the reads in flight past it)', async () => {
    const root = await mkdtemp(join(tmpdir(), 'aim-related-'));
    folders.push(root);
    await mkdir(join(root, 'repo'));
    const repo = new Repository('r', new LocalBackend(join(root, 'repo')));
    const versions = 24;
    const perVersion = 1000;
    for (let v = 0; v < versions; v++) {
      const chunks = Array.from({ length: perVersion }, () => ({ digest: randomDigest(), size: 10 }));
      const manifest: Manifest = {
        schemaVersion: 1,
        mediaType: MANIFEST_MEDIA_TYPE,
        files: [{ path: 'w.bin', size: perVersion * 10, mode: 0o644, digest: randomDigest(), chunks }],
        annotations: {},
      };
      const { digest } = await repo.putManifest(manifest);
      await writeLocationMap(repo.backend, digest, manifest, () => ({ pack: 'a'.repeat(32), offset: 0, size: 10 }));
      await repo.putTag('m', `v${v}`, { digest, pushedAt: new Date(Date.UTC(2026, 0, 1 + v)).toISOString(), size: perVersion * 10, files: 1 });
    }
    const budget = 2500;
    const cache = new IndexCache(join(root, 'home', 'cache'), join(root, 'home'));
    const pushing = new PushLocations(repo, 'm', () => undefined, cache, budget);
    expect(await pushing.has(randomDigest(), 10)).toBe(false);
    expect(pushing.size).toBeGreaterThanOrEqual(budget);
    expect(pushing.size).toBeLessThanOrEqual(budget + 8 * perVersion); // 8 maps read at once may each land past it
    expect(pushing.size).toBeLessThan(versions * perVersion);
  });
});
