// Two aim commands writing one destination at once: the second waits for the first (DEST/.aim/lock), takes over the
// lock of one that was killed, gives up after AIM_PULL_LOCK_WAIT_MS with exit 5 naming the holder, and reads a lock
// file as anything in DEST may be (a link, a FIFO, a huge or garbage file: one plain error, nothing followed). The
// first pull is held still before its moves through a FIFO (AIM_TEST_PAUSE_BEFORE_RENAMES), so the second meets it
// there, not on a timer. Through the built CLI.
import { execFileSync } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { lstat, mkdir, readFile, symlink, truncate, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateModel } from '../../fixtures/generate-model.js';
import { createWorkspace, expectSameTree, expectUserError, type RunningCli, type Workspace } from '../helpers/cli.js';
import { startPaused, waitingFor } from '../helpers/pull-pause.js';

const KiB = 1024;
const FILES = [
  { path: 'config.json', size: 300 },
  { path: 'tok/vocab.json', size: 2 * KiB },
  { path: 'weights.bin', size: 900 * KiB },
];

/** A lock as this test process would write it, holder details overridable. */
function lockOf(fields: Record<string, unknown> = {}): string {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const processStart = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  const holder = {
    pid: process.pid,
    host: hostname(),
    startedAt: new Date().toISOString(),
    command: 'aim pull r/m:v1 held',
    processStart,
    boot: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
    pidNamespace: readlinkSync('/proc/self/ns/pid'),
    ...fields,
  };
  return `${JSON.stringify(holder)}\n`;
}

describe('two aim commands writing one destination', () => {
  let ws: Workspace;

  beforeAll(async () => {
    ws = await createWorkspace((dir) => ({ r: { type: 'local', path: `${dir}/repo` } }));
    await generateModel(ws.path('model'), { files: FILES, seed: 'dest-lock' });
    await ws.json(['push', 'r/m:v1', 'model']);
  });
  afterAll(() => ws.cleanup());

  const lockPath = (dest: string) => join(dest, '.aim', 'lock');

  /** A pull into `dest` (or another command that pulls, `args`) held still before its moves, holding DEST. */
  async function heldPull(dest: string, args = ['pull', 'r/m:v1', dest]): Promise<{ pull: RunningCli; go: () => Promise<void> }> {
    const { running, go } = await startPaused(ws, 'AIM_TEST_PAUSE_BEFORE_RENAMES', args);
    return { pull: running, go };
  }

  /** Waits until `running` has said it waits for `pid`, and fails if it names another. */
  const untilWaiting = async (running: RunningCli, pid: number) => expect((await waitingFor(running)).pid).toBe(pid);

  it('a second pull waits for the first, then finishes: both exit 0, DEST verifies, the lock is gone', async () => {
    const dest = ws.path('both');
    const first = await heldPull(dest);
    const second = ws.start(['pull', 'r/m:v1', dest, '--json']);
    await untilWaiting(second, first.pull.child.pid!);
    await first.go();
    const [a, b] = await Promise.all([first.pull.result, second.result]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expect(b.json().filesUnchanged).toBe(FILES.length);
    await expectSameTree(dest, ws.path('model'));
    const verified = await ws.run(['verify', dest]);
    expect(verified.code, verified.stderr).toBe(0);
    await expect(lstat(lockPath(dest))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('a second `aim install` of the same version waits for the first in AIM_HOME', async () => {
    const first = await heldPull('', ['install', 'r/m:v1']);
    const second = ws.start(['install', 'r/m:v1', '--json']);
    await untilWaiting(second, first.pull.child.pid!);
    await first.go();
    const [a, b] = await Promise.all([first.pull.result, second.result]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    const { folder } = b.json();
    await expectSameTree(folder, ws.path('model'));
  });

  it('two bundles naming the same members in other orders never hold one each: the members are locked by name', async () => {
    await generateModel(ws.path('model-n'), { files: FILES, seed: 'dest-lock-n' });
    await ws.json(['push', 'r/n:v1', 'model-n']);
    await ws.json(['bundle', 'r/mn:v1', 'm:v1', 'n:v1']);
    await ws.json(['bundle', 'r/nm:v1', 'n:v1', 'm:v1']);
    const dest = ws.path('bundles');
    // n held by a paused pull: the first bundle takes m, then waits for n.
    const holder = await heldPull(join(dest, 'n'), ['pull', 'r/n:v1', join(dest, 'n')]);
    const mn = ws.start(['pull', 'r/mn:v1', dest], { env: { AIM_PULL_LOCK_WAIT_MS: '120000' } });
    await untilWaiting(mn, holder.pull.child.pid!);
    // The second, naming n first, also takes m first: it waits for the first bundle, holding nothing that one needs.
    const nm = ws.start(['pull', 'r/nm:v1', dest], { env: { AIM_PULL_LOCK_WAIT_MS: '120000' } });
    expect(await waitingFor(nm)).toEqual({ dest: join(dest, 'm'), pid: mn.child.pid });
    await holder.go();
    for (const done of await Promise.all([holder.pull.result, mn.result, nm.result])) expect(done.code, done.stderr).toBe(0);
    await expectSameTree(join(dest, 'm'), ws.path('model'));
    await expectSameTree(join(dest, 'n'), ws.path('model-n'));
  });

  it('`aim rm` of a version an install is repairing waits for it, then removes the record and the folder', async () => {
    const { folder } = await ws.json(['install', 'r/m:v1']);
    await writeFile(join(folder, 'config.json'), 'damaged');
    const repair = await heldPull('', ['install', 'r/m:v1']);
    const removing = ws.start(['rm', 'r/m:v1', '--json']);
    expect(await waitingFor(removing)).toEqual({ dest: folder, pid: repair.pull.child.pid });
    await repair.go();
    const [repaired, removed] = await Promise.all([repair.pull.result, removing.result]);
    expect(repaired.code, repaired.stderr).toBe(0);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.json().removed).toMatchObject([{ reference: 'r/m:v1', removed: true }]);
    await expect(lstat(folder)).rejects.toMatchObject({ code: 'ENOENT' });
    // Nor are the model's and the repository's folders left empty under AIM_HOME/models, which stays.
    await expect(lstat(dirname(folder))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(lstat(dirname(dirname(folder)))).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await lstat(dirname(dirname(dirname(folder))))).isDirectory()).toBe(true);
    // The same of its records' folders under AIM_HOME/installed.
    await expect(lstat(join(ws.home, 'installed', 'r'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await lstat(join(ws.home, 'installed'))).isDirectory()).toBe(true);
    expect((await ws.json(['installed'])).models).toEqual([]);
  });

  it('`aim rm` that waited while an install moved the tag to another version removes that one: no folder left unrecorded', async () => {
    await generateModel(ws.path('model-o2'), { files: FILES, seed: 'dest-lock-o2' });
    await ws.json(['push', 'r/o:v1', 'model']);
    await ws.json(['push', 'r/o:v2', 'model-o2']);
    const { folder } = await ws.json(['install', 'r/o:v1']);
    // The installed version's folder held by a pull paused there: rm waits for it.
    await writeFile(join(folder, 'config.json'), 'damaged');
    const holder = await heldPull(folder, ['pull', '--force', 'r/o:v1', folder]);
    const removing = ws.start(['rm', 'r/o:v1', '--json']);
    await untilWaiting(removing, holder.pull.child.pid!);
    // Meanwhile v1 moves to v2's content and is installed again: its record names the new version, then the
    // install waits to release the old one.
    await ws.json(['tag', 'r/o:v2', 'v1', '--force']);
    const installing = ws.start(['install', 'r/o:v1', '--json']);
    await untilWaiting(installing, holder.pull.child.pid!);
    await holder.go();
    for (const done of await Promise.all([holder.pull.result, removing.result, installing.result])) expect(done.code, done.stderr).toBe(0);
    // Whichever of rm and install takes the old folder first, rm comes last for the record: nothing of r/o is left.
    expect((await ws.json(['installed'])).models.filter((m: { model: string }) => m.model === 'o')).toEqual([]);
    await expect(lstat(join(ws.home, 'models', 'r', 'o'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('removes the temp files of commands killed while taking the lock, and nothing else of .aim', async () => {
    const dest = ws.path('left-temps');
    await ws.json(['pull', 'r/m:v1', dest]);
    const left = ['.lock.0123456789ab.tmp', '.lock.break.abcdefabcdef.tmp'];
    for (const name of [...left, 'lock.notes']) await writeFile(join(dest, '.aim', name), lockOf());
    await ws.json(['pull', 'r/m:v1', dest]);
    for (const name of left) await expect(lstat(join(dest, '.aim', name))).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await lstat(join(dest, '.aim', 'lock.notes'))).isFile()).toBe(true);
  });

  it("names a lock that cannot be written by DEST's path, not by the held .aim's /proc/self/fd path: pull and rm", async () => {
    const dest = ws.path('immutable');
    await ws.json(['pull', 'r/m:v1', dest]);
    const { folder } = await ws.json(['install', 'r/m:v1']);
    // Immutable: not even root may make a file there.
    for (const aim of [join(dest, '.aim'), join(folder, '.aim')]) execFileSync('chattr', ['+i', aim]);
    try {
      for (const [args, aim] of [[['pull', 'r/m:v1', dest], join(dest, '.aim')], [['rm', 'r/m:v1'], join(folder, '.aim')]] as const) {
        const result = await ws.run([...args]);
        expectUserError(result, new RegExp(`cannot write ${aim}/\\.lock\\.[0-9a-f]{12}\\.tmp: permission denied`));
        expect(result.code).toBe(6);
        expect(result.stderr).not.toContain('/proc/self/fd');
      }
    } finally {
      for (const aim of [join(dest, '.aim'), join(folder, '.aim')]) execFileSync('chattr', ['-i', aim]);
    }
    expect((await ws.json(['rm', 'r/m:v1'])).removed).toMatchObject([{ reference: 'r/m:v1', removed: true }]);
  });

  it('gives up after AIM_PULL_LOCK_WAIT_MS with exit 5 naming DEST, the holder and what to do', async () => {
    const dest = ws.path('bound');
    const first = await heldPull(dest);
    try {
      for (const waitMs of ['300', '0']) {
        const second = await ws.run(['pull', 'r/m:v1', dest], { env: { AIM_PULL_LOCK_WAIT_MS: waitMs } });
        expectUserError(second, new RegExp(`${dest} is being written by another aim command \\(pid ${first.pull.child.pid}, since .*: aim pull r/m:v1 `));
        expect(second.code).toBe(5);
        expect(second.stderr).toMatch(/hint: run this again once that one has ended \(AIM_PULL_LOCK_WAIT_MS/);
      }
    } finally {
      await first.go();
    }
    expect((await first.pull.result).code).toBe(0);
    await expectSameTree(dest, ws.path('model'));
  });

  it('takes over the lock of a pull killed with SIGKILL, saying so at -v', async () => {
    const dest = ws.path('killed');
    const first = await heldPull(dest);
    first.pull.child.kill('SIGKILL');
    expect((await first.pull.result).signal).toBe('SIGKILL');
    await first.go();
    expect(JSON.parse(await readFile(lockPath(dest), 'utf8')).pid).toBe(first.pull.child.pid);
    const again = await ws.run(['pull', 'r/m:v1', dest, '-v']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/took over the lock of an aim command that is gone: .*\.aim\/lock/);
    await expectSameTree(dest, ws.path('model'));
    await expect(lstat(lockPath(dest))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('lets go of DEST on SIGTERM', async () => {
    const dest = ws.path('terminated');
    const first = await heldPull(dest);
    expect((await lstat(lockPath(dest))).isFile()).toBe(true);
    // The pause is a synchronous read: the signal is handled once the pull is let go, before it moves anything.
    first.pull.child.kill('SIGTERM');
    await first.go();
    expect((await first.pull.result).signal).toBe('SIGTERM');
    await expect(lstat(lockPath(dest))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('waits for a live process on this host, and takes over from a reused pid (another start time)', async () => {
    const dest = ws.path('live');
    await mkdir(join(dest, '.aim'), { recursive: true });
    await writeFile(lockPath(dest), lockOf());
    const waited = await ws.run(['pull', 'r/m:v1', dest], { env: { AIM_PULL_LOCK_WAIT_MS: '300' } });
    expectUserError(waited, new RegExp(`is being written by another aim command \\(pid ${process.pid}, since `));
    expect(waited.code).toBe(5);
    expect(waited.stderr).toMatch(new RegExp(`warn waiting for another aim command writing ${dest} pid=${process.pid} `));

    await writeFile(lockPath(dest), lockOf({ processStart: '1' }));
    const reused = await ws.run(['pull', 'r/m:v1', dest, '-v'], { env: { AIM_PULL_LOCK_WAIT_MS: '0' } });
    expect(reused.code, reused.stderr).toBe(0);
    expect(reused.stderr).toMatch(/took over the lock of an aim command that is gone/);
    await expectSameTree(dest, ws.path('model'));
  });

  it('takes over a dead holder\'s lock past the file a command killed while taking over left', async () => {
    const dest = ws.path('break');
    await mkdir(join(dest, '.aim'), { recursive: true });
    await writeFile(lockPath(dest), lockOf({ processStart: '1' }));
    await writeFile(join(dest, '.aim', 'lock.break'), lockOf({ processStart: '2' }));
    const result = await ws.run(['pull', 'r/m:v1', dest, '-v'], { env: { AIM_PULL_LOCK_WAIT_MS: '0' } });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr.match(/took over the lock of an aim command that is gone/g)).toHaveLength(1);
    await expect(lstat(join(dest, '.aim', 'lock.break'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expectSameTree(dest, ws.path('model'));
  });

  it('refuses at once, naming it, a folder put where a command taking over a dead holder\'s lock writes lock.break', async () => {
    const dest = ws.path('break-folder');
    await mkdir(join(dest, '.aim', 'lock.break'), { recursive: true });
    await writeFile(lockPath(dest), lockOf({ processStart: '1' }));
    const result = await ws.run(['pull', 'r/m:v1', dest], { env: { AIM_PULL_LOCK_WAIT_MS: '5000' } });
    expectUserError(result, new RegExp(`${join(dest, '.aim', 'lock.break')} is a folder where a file should be`));
    expect(result.code).toBe(6);
    expect(result.stderr).not.toContain('/proc/self/fd');
  });

  it('takes over a lock from before the last boot, and cannot tell about a pid of another pid namespace (a container)', async () => {
    const dest = ws.path('boot');
    await mkdir(join(dest, '.aim'), { recursive: true });
    await writeFile(lockPath(dest), lockOf({ boot: 'an-earlier-boot' }));
    const rebooted = await ws.run(['pull', 'r/m:v1', dest, '-v'], { env: { AIM_PULL_LOCK_WAIT_MS: '0' } });
    expect(rebooted.code, rebooted.stderr).toBe(0);
    expect(rebooted.stderr).toMatch(/took over the lock of an aim command that is gone/);

    await writeFile(lockPath(dest), lockOf({ pidNamespace: 'pid:[1]' }));
    const contained = await ws.run(['pull', 'r/m:v1', dest], { env: { AIM_PULL_LOCK_WAIT_MS: '0' } });
    expectUserError(contained, new RegExp(`is being written by another aim command \\(pid ${process.pid} on ${hostname()}, since `));
    expect(contained.code).toBe(5);
    expect(contained.stderr).toContain(`delete ${lockPath(dest)}`);
  });

  it('waits for a lock from another host, then fails naming the lock file to delete', async () => {
    const dest = ws.path('nfs');
    await mkdir(join(dest, '.aim'), { recursive: true });
    await writeFile(lockPath(dest), lockOf({ host: 'gpu-box-7', pid: 4242, processStart: '99' }));
    const result = await ws.run(['pull', 'r/m:v1', dest], { env: { AIM_PULL_LOCK_WAIT_MS: '300' } });
    expectUserError(result, /is being written by another aim command \(pid 4242 on gpu-box-7, since /);
    expect(result.code).toBe(5);
    expect(result.stderr).toContain(`hint: if no aim runs on gpu-box-7 any more, delete ${lockPath(dest)}`);
    expect(result.stderr).toMatch(/waiting for another aim command writing .*on gpu-box-7: if no aim runs there, delete/);
    await expect(lstat(join(dest, 'weights.bin'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  const hostile: Array<[string, (lock: string, dest: string) => Promise<void>, number, RegExp]> = [
    ['a symlink', (lock, dest) => symlink(join(dest, '..', 'outside.json'), lock), 6, /\.aim\/lock is a symlink, not a regular file/],
    ['a FIFO', async (lock) => void execFileSync('mkfifo', [lock]), 6, /\.aim\/lock is a FIFO, not a regular file/],
    ['a folder', (lock) => mkdir(lock), 6, /\.aim\/lock is a folder, not a regular file/],
    ['huge', async (lock) => { await writeFile(lock, ''); await truncate(lock, 8 * 1024 ** 3); }, 4, /corrupt destination lock at .*\.aim\/lock: 8589934592 bytes, more than the 4096/],
    ['not JSON', (lock) => writeFile(lock, 'locked!\n'), 4, /corrupt destination lock at .*\.aim\/lock: not valid JSON/],
    ['empty', (lock) => writeFile(lock, ''), 4, /corrupt destination lock at .*\.aim\/lock: the file is empty/],
    ['JSON of another shape', (lock) => writeFile(lock, lockOf({ pid: -1 })), 4, /corrupt destination lock at .*\.aim\/lock: pid: -1 is not a process id/],
  ];

  it.each(hostile)('refuses a lock that is %s with one plain error naming it, following nothing', async (what, plant, exitCode, message) => {
    const dest = ws.path(`hostile-${what.replace(/\W+/g, '-')}`);
    await mkdir(join(dest, '.aim'), { recursive: true });
    // A lock that reads, outside DEST: a command that followed the link would wait for its holder instead.
    const outside = join(dest, '..', 'outside.json');
    const outsideLock = lockOf({ host: 'elsewhere' });
    await writeFile(outside, outsideLock);
    await plant(lockPath(dest), dest);
    const result = await ws.run(['pull', 'r/m:v1', dest], { env: { AIM_PULL_LOCK_WAIT_MS: '0' } });
    expectUserError(result, message);
    expect(result.code).toBe(exitCode);
    expect(result.stderr).toContain(`delete ${lockPath(dest)}`);
    expect(await readFile(outside, 'utf8')).toBe(outsideLock);
    await expect(lstat(join(dest, 'weights.bin'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
