// Records of deployments that `run` started, one JSON file per deployment in $AIM_HOME/deployments/<name>.json.
// They are the only memory aim has of a detached server or a remote deployment, so each is written atomically
// (a crash mid-write must not lose the pid of a running server) and read tolerantly (a damaged one is skipped,
// not fatal to `ps`).
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DeploymentRecord } from '../../serving/engine.js';
import { isTempName, writeAtomic } from '../../lib/atomic-write.js';
import { NotFoundError, UsageError } from '../../lib/errors.js';
import { aimHome } from '../../settings/home.js';
import { DEPLOYMENT_FORMAT, deploymentRecordSchema } from '../format/schemas/local-state.js';
import { corrupt, describeValue, parseJson } from '../format/schemas/parse.js';
import { isSafeName } from '../format/names.js';

export function deploymentsDir(home = aimHome()): string {
  return join(home, 'deployments');
}

function recordPath(name: string, home: string): string {
  if (!isSafeName(name)) {
    throw new UsageError(`invalid deployment name "${name}"`, { hint: 'use letters, digits, ".", "_" and "-", e.g. qwen2.5-7b-instruct' });
  }
  return join(deploymentsDir(home), `${name}.json`);
}

export async function saveDeployment(record: DeploymentRecord, home = aimHome()): Promise<void> {
  await writeAtomic(recordPath(record.name, home), `${JSON.stringify(record, null, 2)}\n`);
}

/** A record's bytes as a DeploymentRecord, or a plain error naming the file. */
function parseRecord(bytes: Buffer, path: string): DeploymentRecord {
  return parseJson(deploymentRecordSchema, bytes, DEPLOYMENT_FORMAT, path);
}

export async function loadDeployment(name: string, home = aimHome()): Promise<DeploymentRecord> {
  const path = recordPath(name, home);
  const bytes = await readFile(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
    throw new NotFoundError(`no deployment named ${name}`, { hint: 'see running deployments with `aim ps`' });
  });
  const record = parseRecord(bytes, path);
  if (record.name !== name) throw corrupt(DEPLOYMENT_FORMAT, path, `it names deployment ${describeValue(record.name)}`);
  return record;
}

export async function listDeploymentRecords(home = aimHome()): Promise<DeploymentRecord[]> {
  const names = await readdir(deploymentsDir(home)).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [] as string[];
    throw error;
  });
  const records: DeploymentRecord[] = [];
  for (const file of names.filter((n) => n.endsWith('.json') && !isTempName(n)).sort()) {
    try {
      const path = join(deploymentsDir(home), file);
      records.push(parseRecord(await readFile(path), path));
    } catch {
      // A record that cannot be parsed names nothing we could stop; listing the rest matters more.
    }
  }
  return records;
}

export async function removeDeployment(name: string, home = aimHome()): Promise<void> {
  await rm(recordPath(name, home), { force: true });
}

/** Folder for an engine's logs and run files. */
export function runDir(home = aimHome()): string {
  return join(home, 'run');
}
