// When a pull finds chunks missing it stages again once, only if a gc has run (a record under gc/); a second miss
// is the race (a ConflictError saying to run the pull again) only if yet another gc started meanwhile; otherwise
// the chunks are really missing and the repository's own error stands. (test/e2e/gc-pull.test.ts runs the real race.)
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalBackend } from '../../../src/backends/local.js';
import { writeGcRecord } from '../../../src/core/gc/gc-records.js';
import { silentProgress } from '../../../src/core/progress.js';
import { Repository } from '../../../src/core/store/repository.js';
import { stageFollowingGc } from '../../../src/core/transfer/pull-after-gc.js';
import { ConflictError, EXIT_CODES, IntegrityError, StorageError } from '../../../src/lib/errors.js';
import type { Digest } from '../../../src/core/format/digest.js';

const DIGEST = `blake3:${'ab'.repeat(32)}` as Digest;
const missing = () => new IntegrityError('chunk blake3:… is missing from repository r', { hint: 'run `aim verify r`' });

let root: string;
let backend: LocalBackend;
let repo: Repository;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'aim-pull-after-gc-'));
  backend = new LocalBackend(root);
  repo = new Repository('r', backend, 4, true);
});
afterEach(() => rm(root, { recursive: true, force: true }));

/** A stage that fails with each error of `errors` in turn (running `between` after each failure), then succeeds. */
function stages(errors: Error[], between: () => Promise<void> = async () => undefined) {
  let calls = 0;
  const stage = async (): Promise<string> => {
    const error = errors[calls++];
    if (!error) return 'staged';
    await between();
    throw error;
  };
  return { stage, calls: () => calls };
}

describe('stageFollowingGc', () => {
  it('without any gc record a missing chunk is the repository’s own error, and nothing is tried again', async () => {
    const { stage, calls } = stages([missing()]);
    await expect(stageFollowingGc(repo, DIGEST, silentProgress, stage)).rejects.toThrow(/is missing from repository r/);
    expect(calls()).toBe(1);
  });

  it('after a gc it stages again once, from the locations as they are now, and says so', async () => {
    await writeGcRecord(backend, ['0'.repeat(32)]);
    const notes: string[] = [];
    const { stage, calls } = stages([missing()]);
    await expect(stageFollowingGc(repo, DIGEST, { ...silentProgress, note: (m) => void notes.push(m) }, stage)).resolves.toBe('staged');
    expect(calls()).toBe(2);
    expect(notes.join('\n')).toMatch(/reading where they are now/);
  });

  it('a second miss while another gc started is a conflict naming the version, with the rerun hint', async () => {
    await writeGcRecord(backend, ['0'.repeat(32)]);
    const { stage } = stages([missing(), missing()], async () => void (await writeGcRecord(backend, ['1'.repeat(32)])));
    const error = await stageFollowingGc(repo, DIGEST, silentProgress, stage).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConflictError);
    expect((error as ConflictError).exitCode).toBe(EXIT_CODES.conflict);
    expect((error as ConflictError).message).toContain(DIGEST);
    expect((error as ConflictError).hint).toBe('run the pull again: what was written is kept');
  });

  it('a second miss with no new gc is real damage: the repository’s error stands', async () => {
    await writeGcRecord(backend, ['0'.repeat(32)]);
    const { stage, calls } = stages([missing(), missing()]);
    await expect(stageFollowingGc(repo, DIGEST, silentProgress, stage)).rejects.toBeInstanceOf(IntegrityError);
    expect(calls()).toBe(2);
  });

  it('other failures (storage, usage) are never retried', async () => {
    await writeGcRecord(backend, ['0'.repeat(32)]);
    const { stage, calls } = stages([new StorageError('disk full')]);
    await expect(stageFollowingGc(repo, DIGEST, silentProgress, stage)).rejects.toBeInstanceOf(StorageError);
    expect(calls()).toBe(1);
  });
});
