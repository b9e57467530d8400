// `aim run --foreground`: the CLI stays with the deployment it started, as a service manager or a container expects
// of its main process. It ends when the engine ends (a non-zero exit, so systemd restarts it and `docker run`
// reports it), and the engine ends with it: on Ctrl-C or SIGTERM the CLI's exit stops the local engine.
import { lstatSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { EngineError } from '../../lib/errors.js';
import { aimHome } from '../../settings/home.js';
import { deploymentsDir } from './deployments.js';
import { sleep } from '../../lib/poll.js';
import type { DeploymentRecord } from '../../serving/engine.js';
import { isSameProcess } from '../../serving/process-identity.js';
import type { AimConfig } from '../config/config.js';
import { engineFor } from './serve-engines.js';

/** How often the engine's health is read; its /health answers in milliseconds. */
const WATCH_INTERVAL_MS = 2000;

/**
 * Signals the local engine from the CLI's 'exit' (where nothing asynchronous runs), only while the recorded process
 * is provably the engine: a pid reused since must never be signalled.
 */
function stopWithThisProcess(record: DeploymentRecord, home: string): () => void {
  return () => {
    const { pid, pidStartTime, cmdline } = record;
    if (record.engine !== 'embedded' || !pid || pidStartTime === undefined || cmdline === undefined) return;
    if (!isSameProcess({ pid, startTime: pidStartTime, cmdline })) return;
    process.kill(pid, 'SIGTERM');
    // Stopped on purpose: its record goes too, as `aim stop` would remove it (or ps would call it failed). Only from
    // a real folder: a link planted in its place is not deleted through.
    const folder = deploymentsDir(home);
    if (lstatSync(folder, { throwIfNoEntry: false })?.isDirectory()) rmSync(join(folder, `${record.name}.json`), { force: true });
  };
}

/**
 * Returns never: it throws an EngineError naming how the deployment ended, once it has. The watch has no deadline,
 * unlike every other wait in aim: a service runs for as long as it is meant to.
 */
export async function stayAttached(record: DeploymentRecord, config?: AimConfig, home = aimHome()): Promise<never> {
  const engine = engineFor(record.engine, config, record);
  const stop = stopWithThisProcess(record, home);
  process.once('exit', stop);
  try {
    for (;;) {
      await sleep(WATCH_INTERVAL_MS);
      // Only an engine that is gone ends the watch: one busy answering may miss a health probe, and leaving it
      // running while aim exits would make the restart that follows find the name taken.
      const [live] = await engine.list([record]);
      if (live?.status === 'stopped') break;
    }
    throw new EngineError(`${record.name} stopped: its engine is gone`, {
      hint: record.logFile ? `see ${record.logFile}` : 'see `aim ps`',
    });
  } finally {
    process.removeListener('exit', stop);
  }
}
