// `aim install NAME[:TAG]`: find the model (find-model.ts), pull the version into AIM_HOME where `run` looks for it
// (by digest; only the chosen files for a subset), then write the install record, last, so a record never names a
// version whose files are not all there. Installing a tag again after it moved is an update: the older version's
// folder goes once the new one is complete, unless something still uses it.
import { enforceUserTrust } from '../config/trust-policy.js';
import type { ProgressSink } from '../progress.js';
import type { Reference } from '../format/reference.js';
import type { Session } from '../session.js';
import { resolveVersion, type ResolvedVersion } from '../store/resolve.js';
import type { PullResult } from '../transfer/pull.js';
import type { FileSelection } from '../transfer/subset.js';
import { resolveInstallTarget, type Availability } from './find-model.js';
import { pullIntoHome } from './pull-into-home.js';
import { checkRecordsLock, findInstalledIfReadable, referenceOf, saveInstallRecord, type InstallRecord } from './records.js';
import { releaseVersion, type Release } from './release.js';

export interface InstallOptions {
  home: string;
  select?: FileSelection;
  progress?: ProgressSink;
  /** `--require-signed`: refuse a version no trusted key signed even where the user's policy does not ask. */
  requireSigned?: boolean;
}

export interface InstallResult {
  reference: string;
  record: InstallRecord;
  folder: string;
  pull: PullResult;
  /** The version this tag was installed at before, when it was another one. */
  previous?: Release & { digest: string };
  problems: Availability['problems'];
}

export async function install(session: Session, text: string, options: InstallOptions): Promise<InstallResult> {
  const { ref, quant, problems } = await resolveInstallTarget(session, text);
  const select = quant && options.select?.quant === undefined ? { ...options.select, quant } : options.select;
  const repository = await session.repository(ref.repo);
  const version = await resolveVersion(repository, ref);
  const before = await findInstalledIfReadable(options.home, ref);
  await enforceUserTrust(session.config, repository, version, options.requireSigned);
  await checkRecordsLock(options.home, ref);
  let record: InstallRecord | undefined;
  let replaced: InstallRecord | undefined;
  // The record is written while the version's folder is still held: `aim rm` waiting for it then finds it.
  const pulled = await pullIntoHome(repository, ref.model, version.digest, { ...options, select }, async (done) => {
    record = recordOf(ref, version, before, done);
    replaced = await saveInstallRecord(options.home, record);
  });
  if (!record) throw new Error('the install record was not written');
  // The version the write displaced, which another command may have put there since `before` was read.
  const previous = replaced ? { ...(await releaseVersion(options.home, replaced)), digest: replaced.digest } : undefined;
  return { reference: referenceOf(record), record, folder: pulled.dest, pull: pulled, ...(previous ? { previous } : {}), problems };
}

function recordOf(ref: Reference, version: ResolvedVersion, before: InstallRecord | undefined, pulled: PullResult): InstallRecord {
  const now = new Date().toISOString();
  return {
    version: 1,
    repo: ref.repo,
    model: ref.model,
    ...(ref.digest ? {} : { tag: version.tag ?? ref.tag }),
    digest: version.digest,
    installedAt: before?.installedAt ?? now,
    ...(before ? { updatedAt: now } : {}),
    ...(pulled.subset ? { subset: { include: pulled.subset.include, exclude: pulled.subset.exclude, ...(pulled.subset.quant ? { quant: pulled.subset.quant } : {}) } } : {}),
  };
}
