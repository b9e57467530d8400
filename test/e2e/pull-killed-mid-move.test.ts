// A file moves to a free name in two calls, link(2) then unlink(2) (move-no-replace.ts): a pull killed between them
// leaves the file under its final name and under its partial's name in DEST/.aim/partial, one inode with two names.
// The next pulls must not write through that partial, nor install it as is: whatever a later pull writes there, or
// the user writes into the installed file, would show under both names. The state such a kill leaves is made exactly:
// the pull is paused before its moves (AIM_TEST_PAUSE_BEFORE_RENAMES, a FIFO), the test makes the link the move
// would make, then kills the pull (SIGKILL). Through the built CLI.
import { execFileSync } from 'node:child_process';
import { constants } from 'node:fs';
import { copyFile, link, lstat, open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeRandomFile } from '../../fixtures/generate-model.js';
import { createWorkspace, type Workspace } from '../helpers/cli.js';
import { expectRecordsMatch } from '../helpers/install-records.js';

const KiB = 1024;

describe('a pull killed between the link and the unlink of a move', () => {
  let ws: Workspace;
  let count = 0;

  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo` } }));
    // v1: a file of several chunks and a copy of it (one partial serves both); v2: the same bytes under another name.
    await writeRandomFile(ws.path('v1', 'a.bin'), 900 * KiB, 'killed-mid-move');
    await copyFile(ws.path('v1', 'a.bin'), ws.path('v1', 'b.bin'));
    await writeRandomFile(ws.path('v2', 'c.bin'), 900 * KiB, 'killed-mid-move');
    await ws.json(['push', 'r/m:v1', 'v1']);
    await ws.json(['push', 'r/m:v2', 'v2']);
  });
  afterAll(() => ws.cleanup());

  /** Pulls v1 into `dest` and kills it with a.bin linked to its partial, the partial's name not yet removed. */
  async function killBetweenLinkAndUnlink(dest: string): Promise<void> {
    const fifo = ws.path(`pause-${++count}`);
    execFileSync('mkfifo', [fifo]);
    const pull = ws.start(['pull', 'r/m:v1', dest], { env: { AIM_TEST_PAUSE_BEFORE_RENAMES: fifo } });
    const ended = pull.result.then(async (result) => {
      await (await open(fifo, constants.O_RDONLY | constants.O_NONBLOCK)).close();
      throw new Error(`the pull ended before its moves (exit ${result.code}): ${result.stderr}`);
    });
    // Opening the FIFO for writing returns once the pull has opened it for reading: it is paused there.
    const writer = await Promise.race([open(fifo, 'w'), ended]);
    const partials = join(dest, '.aim', 'partial');
    const [partial] = (await readdir(partials)).filter((name) => /^[0-9a-f]{64}$/.test(name));
    await link(join(partials, partial!), join(dest, 'a.bin'));
    pull.child.kill('SIGKILL');
    expect((await pull.result).signal).toBe('SIGKILL');
    await writer.close();
    expect((await lstat(join(dest, 'a.bin'))).nlink).toBe(2);
  }

  it('installs the copy as a file of its own on the next pull', async () => {
    const dest = ws.path('copy');
    await killBetweenLinkAndUnlink(dest);
    const again = await ws.run(['pull', 'r/m:v1', dest]);
    expect(again.code, again.stderr).toBe(0);
    const [a, b] = await Promise.all([lstat(join(dest, 'a.bin')), lstat(join(dest, 'b.bin'))]);
    expect(b.ino).not.toBe(a.ino);
    expect(b.nlink).toBe(1);
    expect(await readFile(join(dest, 'b.bin'))).toEqual(await readFile(ws.path('v1', 'a.bin')));
    await expectRecordsMatch(dest);
  });

  it("never writes into the user's file through the partial's second name", async () => {
    const dest = ws.path('edited');
    await killBetweenLinkAndUnlink(dest);
    // a.bin is not aim's (nothing records it): the user writes over its start, in place, as an editor may.
    const handle = await open(join(dest, 'a.bin'), 'r+');
    await handle.write('theirs', 0);
    await handle.close();
    const theirs = await readFile(join(dest, 'a.bin'));
    // v2 has those bytes as c.bin, and no a.bin: the pull builds c.bin and leaves a.bin as it is.
    const pulled = await ws.run(['pull', 'r/m:v2', dest]);
    expect(pulled.code, pulled.stderr).toBe(0);
    expect(await readFile(join(dest, 'a.bin'))).toEqual(theirs);
    expect(await readFile(join(dest, 'c.bin'))).toEqual(await readFile(ws.path('v2', 'c.bin')));
    expect((await lstat(join(dest, 'c.bin'))).nlink).toBe(1);
  });
});
