// What `aim ps` and `aim stop` need, apart from `aim run`'s resolving and pulling: those import the GGUF parser
// (@huggingface/gguf and its ~70 task files), which a listing does not need and which cost `ps` about a third of
// its start-up.
import type { DeploymentRecord, EngineKind, LiveDeployment } from '../../serving/engine.js';
import { isAimError, NotFoundError, UsageError, type AimError } from '../../lib/errors.js';
import { closest } from '../../lib/closest.js';
import type { AimConfig } from '../config/config.js';
import { listDeploymentRecords, loadDeployment, removeDeployment } from './deployments.js';
import { aimHome } from '../../settings/home.js';
import type { Session } from '../session.js';
import { engineFor } from './serve-engines.js';
import { runnerIsAlive } from './recorded-start.js';
import { compareText } from '../../lib/compare-text.js';

/**
 * The configuration, read only when a Kamiwaza deployment needs its server's address: embedded deployments are
 * listed and stopped from their records alone, so `ps` and `stop` do not parse model_repos.yaml for them.
 */
export type SessionIfNeeded = () => Promise<Session | undefined>;

async function configFor(kind: EngineKind, sessionIfNeeded: SessionIfNeeded): Promise<AimConfig | undefined> {
  return kind === 'kamiwaza' ? (await sessionIfNeeded())?.config : undefined;
}

export interface DeploymentListing {
  deployments: LiveDeployment[];
  /** Records that could not be read, each naming its file; the other deployments are listed as usual. */
  problems: AimError[];
}

/** Records that one engine instance can answer for: embedded ones together, Kamiwaza ones by the server they name. */
function groups(records: DeploymentRecord[]): DeploymentRecord[][] {
  const byServer = new Map<string, DeploymentRecord[]>();
  for (const record of records) {
    const key = record.engine === 'kamiwaza' ? `kamiwaza ${record.kamiwaza?.baseUrl ?? ''}` : record.engine;
    byServer.set(key, [...(byServer.get(key) ?? []), record]);
  }
  return [...byServer.values()];
}

async function liveStatus(records: DeploymentRecord[], sessionIfNeeded: SessionIfNeeded): Promise<LiveDeployment[]> {
  const out: LiveDeployment[] = [];
  for (const group of groups(records)) {
    const kind = group[0]!.engine;
    // An engine that cannot even be set up (a Kamiwaza record with no server address anywhere) shows its
    // deployments as unknown, like one whose server does not answer, instead of failing the whole listing.
    const live = await configFor(kind, sessionIfNeeded).then((config) => engineFor(kind, config, group[0]).list(group)).catch((error: Error) =>
      group.map((r): LiveDeployment => ({ ...r, status: 'unknown', detail: error.message })));
    out.push(...live);
  }
  return out;
}

/**
 * What to show for a deployment the engine reports: a run still starting it shows as starting whatever the engine
 * says yet; an embedded server that is gone while its ready record remains crashed or was killed (`aim stop`
 * removes the record of what it stops), so it shows as failed, like `docker ps -a`, until `aim stop NAME` clears
 * it; anything else that is gone (a Kamiwaza deployment deleted on the server, a start that was interrupted and
 * whose server is gone too) is simply gone.
 */
function shown(d: LiveDeployment): LiveDeployment {
  if (d.state === 'starting' && runnerIsAlive(d)) return { ...d, status: 'starting' };
  if (d.status === 'stopped' && d.engine === 'embedded' && d.state === 'ready') {
    return { ...d, status: 'failed', detail: `exited unexpectedly; see ${d.logFile ?? 'its log'}` };
  }
  return d;
}

/** Live deployments; records of deployments that are gone are pruned, so `ps` never lists ghosts. */
export async function listDeployments(sessionIfNeeded: SessionIfNeeded, home = aimHome()): Promise<DeploymentListing> {
  const { records, problems } = await listDeploymentRecords(home);
  const deployments = (await liveStatus(records, sessionIfNeeded)).map(shown);
  for (const gone of deployments.filter((d) => d.status === 'stopped')) await removeDeployment(gone.name, home);
  return { deployments: deployments.filter((d) => d.status !== 'stopped').sort((a, b) => compareText(a.name, b.name)), problems };
}

export interface StopResult {
  stopped: string[];
  /** Deployments with nothing left to stop (ended, or their pid now another process's); their records are removed. */
  gone: string[];
  /** Records that could not be read or stopped; the others were stopped. */
  problems: AimError[];
}

/** Stops the named deployments (or every one with no names) and waits until each is gone. */
/**
 * `aim stop NAME`: the deployment of that name, else those serving the model as it was given to `aim run`
 * (`aim stop team/tiny:v1`, as `ollama stop` takes the model). Neither: the error for the name, with the closest
 * running deployment's name when one is near.
 */
async function deploymentsFor(name: string, home: string): Promise<DeploymentRecord[]> {
  let byName: NotFoundError | UsageError;
  try {
    return [await loadDeployment(name, home)];
  } catch (error) {
    if (!(error instanceof NotFoundError || error instanceof UsageError)) throw error;
    byName = error;
  }
  const { records } = await listDeploymentRecords(home);
  const serving = records.filter((record) => record.model === name || (!/[:@]/.test(name.split('/').at(-1)!) && record.model === `${name}:latest`));
  if (serving.length > 0) return serving;
  if (byName instanceof UsageError && /[/:@]/.test(name)) {
    throw new NotFoundError(`no deployment serves ${name}`, { hint: 'see running deployments and their models with `aim ps`', cause: byName });
  }
  const near = closest(name, records.map((record) => record.name));
  if (near === undefined) throw byName;
  throw new NotFoundError(`no deployment named ${name}`, { hint: `did you mean \`aim stop ${near}\`? see running deployments with \`aim ps\``, cause: byName });
}

export async function stopDeployments(sessionIfNeeded: SessionIfNeeded, names: string[], home = aimHome()): Promise<StopResult> {
  const result: StopResult = { stopped: [], gone: [], problems: [] };
  let records: DeploymentRecord[] = [];
  if (names.length === 0) ({ records, problems: result.problems } = await listDeploymentRecords(home));
  const problem = (error: unknown) => {
    if (!isAimError(error)) throw error;
    result.problems.push(error);
  };
  for (const name of names) await deploymentsFor(name, home).then((found) => records.push(...found), problem);
  // One deployment that cannot be stopped (its server unreachable) does not keep the others running.
  for (const record of records) {
    try {
      const outcome = await engineFor(record.engine, await configFor(record.engine, sessionIfNeeded), record).stop(record);
      await removeDeployment(record.name, home);
      result[outcome].push(record.name);
    } catch (error) {
      problem(error);
    }
  }
  return result;
}
