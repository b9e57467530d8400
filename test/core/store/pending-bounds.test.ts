// What a push pays for the pending records and packs it finds, however many an attacker (or years of killed
// pushes) left: a bounded number of records read, and a bounded number of chunks taken back from their footers.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Backend } from '../../../src/backends/backend.js';
import { countingBackend, IoStats } from '../../../src/backends/counting.js';
import { LocalBackend } from '../../../src/backends/local.js';
import { packFooter } from '../../../src/core/store/packs.js';
import { adoptPendingPacks, MAX_ADOPTED_CHUNKS, MAX_PENDING_RECORDS_READ, newPushId } from '../../../src/core/store/pending.js';
import { digestFromHex } from '../../../src/core/format/digest.js';

const folders: string[] = [];
afterEach(async () => Promise.all(folders.splice(0).map((f) => rm(f, { recursive: true, force: true }))));

async function folder(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'aim-pending-bounds-'));
  folders.push(root);
  await mkdir(join(root, 'pending'), { recursive: true });
  return root;
}

const record = (): string => JSON.stringify({ startedAt: new Date().toISOString() });

/** The folder as an object store sees it: no deferred sync, so a pack's footer is taken at its word. */
function likeAnObjectStore(store: LocalBackend): Backend {
  return {
    location: store.location,
    probe: (mode) => store.probe(mode),
    get: (key, maxBytes) => store.get(key, maxBytes),
    getRange: (key, offset, length) => store.getRange(key, offset, length),
    stat: (key) => store.stat(key),
    list: (prefix) => store.list(prefix),
    put: (key, data) => store.put(key, data),
    putIfAbsent: (key, data) => store.putIfAbsent(key, data),
    delete: (key) => store.delete(key),
  };
}

describe('pending records, bounded', () => {
  it('lists and reads at most MAX_PENDING_RECORDS_READ records, however many are left', async () => {
    const root = await folder();
    for (let i = 0; i < 3000; i++) await writeFile(join(root, 'pending', randomBytes(8).toString('hex')), record());
    const stats = new IoStats();
    await adoptPendingPacks(countingBackend(new LocalBackend(root), stats), newPushId());
    const { calls, listedEntries } = stats.report();
    expect(calls.get ?? 0).toBeLessThanOrEqual(MAX_PENDING_RECORDS_READ);
    expect(listedEntries).toBeLessThanOrEqual(MAX_PENDING_RECORDS_READ + 1);
  });

  it('takes back at most the chunks its budget allows (MAX_ADOPTED_CHUNKS) from footers taken at their word', async () => {
    const root = await folder();
    const pushId = newPushId();
    await writeFile(join(root, 'pending', pushId), record());
    await mkdir(join(root, 'packs', pushId.slice(0, 2)), { recursive: true });
    // Each pack: 10,000 bytes of chunks and a footer naming a one-byte chunk at each of them. The budget is the
    // default's 1/20, so that the case stays quick (a push passes none: it gets MAX_ADOPTED_CHUNKS).
    const perPack = 10_000;
    const budget = MAX_ADOPTED_CHUNKS / 20;
    const packs = Math.ceil((budget * 1.5) / perPack);
    for (let p = 0; p < packs; p++) {
      const entries = Array.from({ length: perPack }, (_, i) => ({ digest: digestFromHex(randomBytes(32).toString('hex')), offset: i, size: 1 }));
      await writeFile(join(root, 'packs', pushId.slice(0, 2), `${pushId}${p.toString(16).padStart(16, '0')}`), Buffer.concat([Buffer.alloc(perPack), packFooter(entries)]));
    }
    const adopted = await adoptPendingPacks(likeAnObjectStore(new LocalBackend(root)), newPushId(), budget);
    const taken = [...adopted.packs.values()].reduce((sum, entries) => sum + entries.length, 0);
    expect(taken).toBeGreaterThan(0);
    expect(taken).toBeLessThanOrEqual(budget);
    expect(adopted.pushIds).toEqual([pushId]);
  });
});
