import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalBackend } from '../../src/backends/local.js';
import { NotFoundError } from '../../src/lib/errors.js';
import { runBackendConformance } from './conformance.js';

runBackendConformance('local', async () => {
  const folder = await mkdtemp(join(tmpdir(), 'aim-local-'));
  return { backend: new LocalBackend(folder), cleanup: () => rm(folder, { recursive: true, force: true }) };
});

describe('local folder: deferred sync', () => {
  it('syncs what it wrote unsynced, and names a key that is missing', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'aim-local-'));
    try {
      const backend = new LocalBackend(folder);
      const bytes = randomBytes(200 * 1024);
      expect(await backend.putIfAbsentUnsynced('packs/ab/one', bytes)).toBe(true);
      expect(await backend.putIfAbsentUnsynced('packs/ab/one', randomBytes(10))).toBe(false);
      await backend.sync(['packs/ab/one']);
      expect((await backend.get('packs/ab/one')).equals(bytes)).toBe(true);
      const missing = backend.sync(['packs/ab/one', 'packs/cd/gone']);
      await expect(missing).rejects.toBeInstanceOf(NotFoundError);
      await expect(missing).rejects.toThrow('packs/cd/gone');
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});
