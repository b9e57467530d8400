// `aim update [NAME]`: each installed model that follows a tag gets the version the tag names now. The new version
// is pulled beside the old one, reading every chunk they share from the old folder (so only changed chunks move),
// with the same subset; then the record moves to it; then the old folder goes, unless something still uses it.
// A model whose repository cannot be reached is reported and the others are still updated.
import { AimError, IntegrityError } from '../../lib/errors.js';
import { enforceUserTrust } from '../config/trust-policy.js';
import type { ProgressSink } from '../progress.js';
import type { Session } from '../session.js';
import { resolveVersion } from '../store/resolve.js';
import { matchInstalled } from './match.js';
import { pullIntoHome } from './pull-into-home.js';
import { checkRecordsLock, listInstallRecords, referenceOf, saveInstallRecord, type InstallRecord } from './records.js';
import { releaseVersion, type Release } from './release.js';

export interface ModelUpdate {
  reference: string;
  status: 'updated' | 'up to date' | 'pinned' | 'failed';
  from: string;
  to?: string;
  bytesTransferred: number;
  bytesSkipped: number;
  previous?: Release;
  error?: string;
  /** The failure was a refusal to trust the new version (unsigned, mis-signed, or damaged), not a storage one. */
  refused?: boolean;
}

export interface UpdateResult {
  updates: ModelUpdate[];
  bytesTransferred: number;
  /** Install records that could not be read: `file: why`. */
  problems: string[];
}

async function updateOne(session: Session, home: string, record: InstallRecord, progress?: ProgressSink, requireSigned = false): Promise<ModelUpdate> {
  const base = { reference: referenceOf(record), from: record.digest, bytesTransferred: 0, bytesSkipped: 0 };
  if (!record.tag) return { ...base, status: 'pinned' };
  const repository = await session.repository(record.repo);
  const version = await resolveVersion(repository, { model: record.model, tag: record.tag });
  if (version.digest === record.digest) return { ...base, status: 'up to date', to: version.digest };
  const subset = record.subset;
  // Refused before the new version's folder is made: the installed one stays recorded and in place.
  await enforceUserTrust(session.config, repository, version, requireSigned);
  await checkRecordsLock(home, record);
  let replaced: InstallRecord | undefined;
  // The record is written while the new version's folder is still held: `aim rm` waiting for it then finds it.
  const pulled = await pullIntoHome(repository, record.model, version.digest, { home, progress, select: subset }, async () => {
    replaced = await saveInstallRecord(home, { ...record, digest: version.digest, updatedAt: new Date().toISOString() });
  });
  // The version the write displaced: `record`'s, unless `aim rm` removed it or another install moved the tag meanwhile.
  const previous = replaced ? { previous: await releaseVersion(home, replaced) } : {};
  return { ...base, status: 'updated', to: version.digest, bytesTransferred: pulled.bytesTransferred, bytesSkipped: pulled.bytesSkipped, ...previous };
}

export async function updateInstalled(session: Session, home: string, name?: string, progress?: ProgressSink, requireSigned = false): Promise<UpdateResult> {
  const listing = await listInstallRecords(home);
  const records = name === undefined ? listing.records : matchInstalled(listing.records, name);
  const result: UpdateResult = { updates: [], bytesTransferred: 0, problems: listing.problems.map((p) => p.message) };
  for (const record of records) {
    const update = await updateOne(session, home, record, progress, requireSigned).catch((error: unknown) => {
      if (!(error instanceof AimError)) throw error;
      const refused = error instanceof IntegrityError ? { refused: true } : {};
      return { reference: referenceOf(record), status: 'failed' as const, from: record.digest, bytesTransferred: 0, bytesSkipped: 0, error: error.message, ...refused };
    });
    result.updates.push(update);
    result.bytesTransferred += update.bytesTransferred;
  }
  return result;
}
