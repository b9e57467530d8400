import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import type { CliResult, RunningCli, Workspace } from './cli.js';

// A pull paused at an exact step of its install through a FIFO (AIM_TEST_PAUSE_BEFORE_LAST_LOOK once its files are
// built, before it looks at DEST again for files not aim's, AIM_TEST_PAUSE_BEFORE_RENAMES before anything is
// moved, AIM_TEST_PAUSE_AFTER_FOLDERS once its folders are held, AIM_TEST_PAUSE_BEFORE_REMOVALS before it removes a
// file the new version drops), so that a test changes DEST exactly there without racing the process on a timer.

export type PullPause = 'AIM_TEST_PAUSE_BEFORE_LAST_LOOK' | 'AIM_TEST_PAUSE_BEFORE_RENAMES' | 'AIM_TEST_PAUSE_AFTER_FOLDERS' | 'AIM_TEST_PAUSE_BEFORE_REMOVALS';
/** `aim rm` held the same way, between its look at the tag's record and the record's removal. */
export type RecordPause = 'AIM_TEST_PAUSE_BEFORE_RECORD_REMOVAL' | 'AIM_TEST_PAUSE_BEFORE_BUNDLE_RECORD';

/**
 * Starts aim with `args` in `ws` (a pull, or a command that pulls: install, run; `aim rm` for a RecordPause) and
 * returns once it has paused at `pause`: the running command, and `go()` to let it go on.
 */
export async function startPaused(ws: Workspace, pause: PullPause | RecordPause, args: string[]): Promise<{ running: RunningCli; go: () => Promise<void> }> {
  const fifo = ws.path(`pause-${randomBytes(6).toString('hex')}`);
  execFileSync('mkfifo', [fifo]);
  const running = ws.start(args, { env: { [pause]: fifo } });
  // Opening the FIFO for writing returns once the command has opened it for reading: it is paused there.
  const ended = running.result.then(async (result) => {
    // The command ended without pausing: a reader of our own lets the open below return.
    await (await open(fifo, constants.O_RDONLY | constants.O_NONBLOCK)).close();
    throw new Error(`aim ${args[0]} ended before it paused (exit ${result.code}): ${result.stderr}`);
  });
  const writer = await Promise.race([open(fifo, 'w'), ended]);
  return { running, go: () => writer.close() };
}

/** Runs `aim pull` with `args` in `ws`, runs `change` once the pull has paused at `pause`, then lets it go on; how it ended. */
export async function pullChangedAt(ws: Workspace, pause: PullPause, args: string[], change: () => Promise<void>): Promise<CliResult> {
  const { running, go } = await startPaused(ws, pause, ['pull', ...args]);
  try {
    await change();
  } finally {
    await go();
  }
  return running.result;
}

/** Waits until `running` has said on stderr that it waits for another aim command; the folder and pid it named. */
export async function waitingFor(running: RunningCli): Promise<{ dest: string; pid: number }> {
  let ended = false;
  void running.result.then(() => (ended = true));
  const said = /waiting for another aim command writing (\S+) .*pid=(\d+) /;
  for (;;) {
    const found = said.exec(running.stderrSoFar());
    if (found) return { dest: found[1]!, pid: Number(found[2]) };
    if (ended) throw new Error(`the second command ended without waiting:\n${(await running.result).stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
