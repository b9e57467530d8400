// Starting a deployment so that nothing aim starts is ever unknown to `ps` and `stop`: the record is written before
// the engine starts anything, rewritten each time the engine learns an id (a pid, a remote deployment id), and
// rewritten as ready at the end. An `aim run` that is interrupted leaves a record in state starting that names what
// it started; the next run under that name finds it, and cleans it up unless that other run is still going.
import type { DeploymentRecord, Engine } from '../../serving/engine.js';
import { isSameProcess, processIdentity } from '../../serving/process-identity.js';
import { ConflictError, NotFoundError } from '../../lib/errors.js';
import type { AimConfig } from '../config/config.js';
import { loadDeployment, removeDeployment, saveDeployment } from './deployments.js';
import { engineFor } from './serve-engines.js';

/** Whether the `aim run` that wrote a starting record is still running. */
export function runnerIsAlive(record: DeploymentRecord): boolean {
  return record.state === 'starting' && record.runner !== undefined && isSameProcess(record.runner);
}

/**
 * Makes `name` free for a new deployment: refuses while a live deployment or another run holds it, and cleans up
 * what an interrupted run left (stopping what it had started, then forgetting it).
 */
export async function claimName(name: string, home: string, config?: AimConfig): Promise<void> {
  const existing = await loadDeployment(name, home).catch((error: unknown) => {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  });
  if (!existing) return;
  if (runnerIsAlive(existing)) {
    throw new ConflictError(`${name} is being started by another aim run (pid ${existing.runner!.pid})`, {
      hint: `wait for it, stop it with \`aim stop ${name}\`, or start another with --name`,
    });
  }
  const engine = engineFor(existing.engine, config, existing);
  if (existing.state === 'starting') {
    await engine.stop(existing);
    return removeDeployment(name, home);
  }
  // Overwriting the record of a deployment that may still run would leave it unknown to ps and stop.
  const [live] = await engine.list([existing]).catch((error: Error) => {
    throw new ConflictError(`cannot tell whether ${name} still runs: ${error.message}`, {
      hint: `stop it with \`aim stop ${name}\` once its engine answers, or start another with --name`,
    });
  });
  // A deployment whose server is gone (crashed, killed) may be replaced by a new run under the same name.
  if (live && live.status !== 'stopped') {
    throw new ConflictError(`${name} is already ${live.status} at ${existing.endpoint}`, {
      hint: `use it as it is, stop it with \`aim stop ${name}\`, or start another with --name`,
    });
  }
}

export interface RecordedStart {
  /** What is known before the engine starts anything (state starting, no ids yet). */
  initial: DeploymentRecord;
  engine: Engine;
  home: string;
  /** Runs the engine's start with the checkpoint that keeps the record current. */
  start: (checkpoint: (record: DeploymentRecord) => Promise<void>) => Promise<DeploymentRecord>;
}

export async function startRecorded({ initial, engine, home, start }: RecordedStart): Promise<DeploymentRecord> {
  const runner = processIdentity(process.pid);
  let last: DeploymentRecord = { ...initial, state: 'starting', ...(runner ? { runner } : {}) };
  await saveDeployment(last, home);
  try {
    const ready = await start(async (record) => {
      last = { ...record, state: 'starting', ...(runner ? { runner } : {}) };
      await saveDeployment(last, home);
    });
    const { runner: _done, ...record } = { ...ready, state: 'ready' as const };
    await saveDeployment(record, home);
    return record;
  } catch (error) {
    // A start that failed leaves nothing running; when even the clean-up fails, the record stays for `aim stop`.
    await engine.stop(last).then(() => removeDeployment(initial.name, home), () => undefined);
    throw error;
  }
}
