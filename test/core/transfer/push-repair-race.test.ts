// A repair (`verify --repair`) that removes chunks while a push runs: what the push learned of where chunks are may
// name the dropped copies, so it must not leave a location map or a tag built on that knowledge. It takes its map
// back and runs again (as after a gc, core/gc/gc-race.ts); the repair still under way, that run writes no map.
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalBackend } from '../../../src/backends/local.js';
import { locationMapKey } from '../../../src/core/store/locations.js';
import { Repository } from '../../../src/core/store/repository.js';
import { pull } from '../../../src/core/transfer/pull.js';
import { push } from '../../../src/core/transfer/push.js';
import { silentProgress } from '../../../src/core/progress.js';
import { writeRandomFile } from '../../../fixtures/generate-model.js';

const root = await mkdtemp(join(tmpdir(), 'aim-repair-race-'));
process.env.AIM_HOME = join(root, 'home');
afterAll(() => rm(root, { recursive: true, force: true }));

/** A folder whose first write of a location map is preceded by a removal mark, as a repair starting then writes it. */
class RepairStartsDuringPush extends LocalBackend {
  repaired = false;
  override async put(key: string, data: Uint8Array): Promise<void> {
    if (key.startsWith('locations/') && !this.repaired) {
      this.repaired = true;
      await super.put('removals', Buffer.from(`started ${new Date().toISOString()} test\n`));
    }
    return super.put(key, data);
  }
}

describe('a push racing a repair', () => {
  it('takes its map back and runs again, without a map while the repair is under way; a push after it maps the version', async () => {
    const folder = join(root, 'repo');
    await mkdir(folder);
    await writeRandomFile(join(root, 'src', 'w.bin'), 3 * 1024 * 1024, 'race');
    const racing = new RepairStartsDuringPush(folder);
    const repo = new Repository('r', racing, 8, true);

    const notes: string[] = [];
    const progress = { ...silentProgress, note: (message: string) => void notes.push(message) };
    const first = await push(repo, join(root, 'src'), { model: 'm', tag: 'v1', progress });
    expect(racing.repaired).toBe(true);
    expect(notes.some((note) => note.includes('pushing again'))).toBe(true);
    expect((await repo.getTag('m', 'v1'))?.digest).toBe(first.digest);
    expect(await repo.backend.stat(locationMapKey(first.digest))).toBeUndefined();

    const again = new Repository('r', new LocalBackend(folder), 8, true);
    await again.markRemovals(); // the repair ends (while it runs, a push writes no map: test/hostile/scale.test.ts)
    const pushed = await push(again, join(root, 'src'), { model: 'm', tag: 'v1' });
    expect(pushed.bytesTransferred).toBe(0); // the first run's packs were indexed and are reused
    expect(await again.backend.stat(locationMapKey(pushed.digest))).toBeDefined();
    await pull(again, { model: 'm', tag: 'v1' }, join(root, 'dest'));
    expect((await readFile(join(root, 'dest', 'w.bin'))).equals(await readFile(join(root, 'src', 'w.bin')))).toBe(true);
  });
});
