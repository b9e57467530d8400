// Records of deployments that `run` started, one JSON file per deployment in $AIM_HOME/deployments/<name>.json.
// They are the only memory aim has of a detached server or a remote deployment, so each is written atomically
// (a crash mid-write must not lose the pid of a running server) before the thing it names is started, and read
// back as untrusted: bounded, regular files only, checked by the schema module (format/schemas/local-state.ts).
// A damaged one is reported by name and the others keep working.
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DeploymentRecord } from '../../serving/engine.js';
import { isTempName, writeAtomic } from '../../lib/atomic-write.js';
import { AimError, NotFoundError } from '../../lib/errors.js';
import { readRegularFileIfExists, realFolder } from '../../lib/safe-fs.js';
import { aimHome } from '../../settings/home.js';
import { checkDeploymentName } from '../format/names.js';
import { DEPLOYMENT_FORMAT, deploymentRecordSchema } from '../format/schemas/local-state.js';
import { corrupt, describeValue, parseJson } from '../format/schemas/parse.js';

export function deploymentsDir(home = aimHome()): string {
  return join(home, 'deployments');
}

function recordPath(name: string, home: string): string {
  return join(deploymentsDir(home), `${checkDeploymentName(name)}.json`);
}

export async function saveDeployment(record: DeploymentRecord, home = aimHome()): Promise<void> {
  await writeAtomic(recordPath(record.name, home), `${JSON.stringify(record, null, 2)}\n`, { root: home });
}

/** A record's bytes, checked by the schema module; a record naming another deployment is refused too. */
export function parseDeploymentRecord(bytes: Uint8Array, file: string, expectedName: string): DeploymentRecord {
  const record = parseJson(deploymentRecordSchema, bytes, DEPLOYMENT_FORMAT, file);
  // `aim stop NAME` removes <NAME>.json: a record naming another deployment would make it stop one thing and
  // forget another.
  if (record.name !== expectedName) throw corrupt(DEPLOYMENT_FORMAT, file, `it names deployment ${describeValue(record.name)}`);
  return record;
}

/** The deployments folder, if it is a real folder: a link there would take every record read or write elsewhere. */
function recordsFolder(home: string, create = false): Promise<string> {
  return realFolder(home, ['deployments'], { create });
}

async function readRecord(name: string, home: string): Promise<DeploymentRecord> {
  const file = join(await recordsFolder(home), `${checkDeploymentName(name)}.json`);
  // A link, FIFO, device or oversized file there is refused with a plain error naming it.
  const bytes = await readRegularFileIfExists(file, DEPLOYMENT_FORMAT.maxBytes);
  if (!bytes) throw new NotFoundError(`no deployment named ${name}`, { hint: 'see running deployments with `aim ps`' });
  return parseDeploymentRecord(bytes, file, name);
}

export async function loadDeployment(name: string, home = aimHome()): Promise<DeploymentRecord> {
  return readRecord(name, home);
}

export interface RecordListing {
  records: DeploymentRecord[];
  /** One line per record that could not be read: which file, and why. */
  problems: AimError[];
}

/** Every readable record, and a problem for each unreadable one (a file aim would not name is not a record). */
export async function listDeploymentRecords(home = aimHome()): Promise<RecordListing> {
  const names = await readdir(await recordsFolder(home)).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [] as string[];
    throw error;
  });
  const listing: RecordListing = { records: [], problems: [] };
  for (const file of names.filter((n) => n.endsWith('.json') && !isTempName(n)).sort()) {
    try {
      listing.records.push(await readRecord(file.slice(0, -'.json'.length), home));
    } catch (error) {
      if (!(error instanceof AimError) || error instanceof NotFoundError) continue; // removed meanwhile
      listing.problems.push(error);
    }
  }
  return listing;
}

export async function removeDeployment(name: string, home = aimHome()): Promise<void> {
  await recordsFolder(home);
  await rm(recordPath(name, home), { force: true });
}

/** Folder for an engine's logs and run files. */
export function runDir(home = aimHome()): string {
  return join(home, 'run');
}
