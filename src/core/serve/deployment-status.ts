// What `aim ps` and `aim stop` need, apart from `aim run`'s resolving and pulling: those import the GGUF parser
// (@huggingface/gguf and its ~70 task files), which a listing does not need and which cost `ps` about a third of
// its start-up.
import type { EngineKind, LiveDeployment } from '../../serving/engine.js';
import type { AimConfig } from '../config/config.js';
import { listDeploymentRecords, loadDeployment, removeDeployment } from './deployments.js';
import { aimHome } from '../../settings/home.js';
import type { Session } from '../session.js';
import { engineFor } from './serve-engines.js';

/**
 * The configuration, read only when a Kamiwaza deployment needs its server's address: embedded deployments are
 * listed and stopped from their records alone, so `ps` and `stop` do not parse model_repos.yaml for them.
 */
export type SessionIfNeeded = () => Promise<Session | undefined>;

async function configFor(kind: EngineKind, sessionIfNeeded: SessionIfNeeded): Promise<AimConfig | undefined> {
  return kind === 'kamiwaza' ? (await sessionIfNeeded())?.config : undefined;
}

/** Live deployments; records of deployments that are gone are pruned, so `ps` never lists ghosts. */
export async function listDeployments(sessionIfNeeded: SessionIfNeeded, home = aimHome()): Promise<LiveDeployment[]> {
  const records = await listDeploymentRecords(home);
  const out: LiveDeployment[] = [];
  for (const kind of ['embedded', 'kamiwaza'] as const) {
    const mine = records.filter((r) => r.engine === kind);
    if (mine.length === 0) continue;
    // An engine that cannot even be set up (a Kamiwaza record with no server address anywhere) shows its
    // deployments as unknown, like one whose server does not answer, instead of failing the whole listing.
    const live = await configFor(kind, sessionIfNeeded).then((config) => engineFor(kind, config, mine[0]).list(mine)).catch((error: Error) =>
      mine.map((r): LiveDeployment => ({ ...r, status: 'unknown', detail: error.message })));
    out.push(...live);
  }
  // `aim stop` removes the record of what it stops, so an embedded server that is gone while its record remains
  // crashed or was killed: show that (like `docker ps -a`) until `aim stop NAME` clears it. A Kamiwaza deployment
  // deleted on the server is simply gone.
  const shown = out.map((d): LiveDeployment =>
    d.status === 'stopped' && d.engine === 'embedded' ? { ...d, status: 'failed', detail: `exited unexpectedly; see ${d.logFile ?? 'its log'}` } : d);
  for (const gone of shown.filter((d) => d.status === 'stopped')) await removeDeployment(gone.name, home);
  return shown.filter((d) => d.status !== 'stopped').sort((a, b) => a.name.localeCompare(b.name));
}

/** Stops one deployment (or every one with `all`) and waits until it is gone; returns the names stopped. */
export async function stopDeployments(sessionIfNeeded: SessionIfNeeded, names: string[], home = aimHome()): Promise<string[]> {
  const records = names.length > 0 ? await Promise.all(names.map((n) => loadDeployment(n, home))) : await listDeploymentRecords(home);
  for (const record of records) {
    await engineFor(record.engine, await configFor(record.engine, sessionIfNeeded), record).stop(record);
    await removeDeployment(record.name, home);
  }
  return records.map((r) => r.name);
}
