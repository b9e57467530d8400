// `aim install`, `aim update` and `aim rm` of a bundle. Each member is installed as a version pinned by its digest
// (so `run` and `inspect` find it like any installed version, and `update` of the member alone leaves it as the
// bundle says); the bundle's own record, written last, follows the bundle's tag. Updating moves to the members the
// tag names now, then drops the members the new bundle no longer holds, unless another installed bundle does.
import { AimError, NotFoundError } from '../../lib/errors.js';
import { formatReference } from '../format/reference.js';
import type { ProgressSink } from '../progress.js';
import type { Session } from '../session.js';
import { install, type InstallOptions, type InstallResult } from '../install/install.js';
import { listInstallRecords, removeInstallRecord } from '../install/records.js';
import { releaseVersion, type Release } from '../install/release.js';
import { resolveBundle, type ResolvedBundle } from '../store/bundles.js';
import { listBundleRecords, matchBundles, removeBundleRecord, saveBundleRecord, withBundlesLocked, type BundleInstall } from './bundle-records.js';
import { pauseForTest } from '../transfer/test-pause.js';

export interface BundleInstallResult {
  kind: 'bundle';
  reference: string;
  digest: string;
  members: InstallResult[];
  bytesTransferred: number;
}

const bundleReference = (record: Pick<BundleInstall, 'repo' | 'bundle' | 'tag'>): string => `${record.repo}/${record.bundle}:${record.tag}`;
const memberReference = (repo: string, member: { model: string; digest: string }): string => `${repo}/${member.model}@${member.digest}`;

export async function installBundle(session: Session, repo: string, found: ResolvedBundle, options: InstallOptions): Promise<BundleInstallResult> {
  const members: InstallResult[] = [];
  for (const member of found.bundle.members) members.push(await install(session, memberReference(repo, member), options));
  if (found.tag) {
    const tag = found.tag;
    pauseForTest('BEFORE_BUNDLE_RECORD');
    await withBundlesLocked(options.home, async () => {
      // A member `aim rm` of another bundle removed since it was installed above (named then by no installed bundle)
      // is installed again before this record names it.
      await installAgainIfRemoved(session, repo, found, members, options);
      const now = new Date().toISOString();
      const before = (await listBundleRecords(options.home)).records.find((r) => r.repo === repo && r.bundle === found.name && r.tag === tag);
      const record = { version: 1 as const, repo, bundle: found.name, tag, digest: found.digest, members: found.bundle.members.map(({ model, digest }) => ({ model, digest })), installedAt: before?.installedAt ?? now, ...(before ? { updatedAt: now } : {}) };
      await saveBundleRecord(options.home, record);
      if (before) await releaseMembers(options.home, before, record.members);
    });
  }
  const reference = found.tag ? `${repo}/${found.name}:${found.tag}` : formatReference({ repo, model: found.name, digest: found.digest });
  return { kind: 'bundle', reference, digest: found.digest, members, bytesTransferred: members.reduce((sum, m) => sum + m.pull.bytesTransferred, 0) };
}

/** Installs again, in place in `members`, each member whose pinned install record is gone. */
async function installAgainIfRemoved(session: Session, repo: string, found: ResolvedBundle, members: InstallResult[], options: InstallOptions): Promise<void> {
  const installed = (await listInstallRecords(options.home)).records;
  const isPinned = (member: { model: string; digest: string }) => installed.some((r) => r.repo === repo && r.model === member.model && r.digest === member.digest && r.tag === undefined);
  for (const [index, member] of found.bundle.members.entries()) {
    if (!isPinned(member)) members[index] = await install(session, memberReference(repo, member), options);
  }
}

/**
 * Forgets the pinned installs of `record`'s members that neither `keep` nor another installed bundle names. Only
 * records pinned by digest go (an install of the same version by tag is the user's own); a folder a deployment
 * serves from, or another record uses, stays (releaseVersion).
 */
async function releaseMembers(home: string, record: BundleInstall, keep: BundleInstall['members']): Promise<Release[]> {
  const others = (await listBundleRecords(home)).records.filter((r) => bundleReference(r) !== bundleReference(record));
  const kept = new Set([...keep, ...others.flatMap((r) => r.members)].map((m) => memberReference(record.repo, m)));
  const installed = (await listInstallRecords(home)).records;
  const released: Release[] = [];
  for (const member of record.members) {
    if (kept.has(memberReference(record.repo, member))) continue;
    const pinned = installed.find((r) => r.repo === record.repo && r.model === member.model && r.digest === member.digest && r.tag === undefined);
    if (!pinned) continue; // removed by hand already
    await removeInstallRecord(home, pinned);
    released.push(await releaseVersion(home, pinned));
  }
  return released;
}

export interface BundleUpdate {
  reference: string;
  kind: 'bundle';
  status: 'updated' | 'up to date' | 'failed';
  from: string;
  to?: string;
  bytesTransferred: number;
  bytesSkipped: number;
  error?: string;
}

/** Every installed bundle (or those `name` matches) moved to what its tag names now. */
export async function updateBundles(session: Session, home: string, name?: string, progress?: ProgressSink, requireSigned = false): Promise<{ updates: BundleUpdate[]; problems: string[] }> {
  const listing = await listBundleRecords(home);
  const records = name === undefined ? listing.records : matchBundles(listing.records, name);
  const updates: BundleUpdate[] = [];
  for (const record of records) {
    const base = { reference: bundleReference(record), kind: 'bundle' as const, from: record.digest, bytesTransferred: 0, bytesSkipped: 0 };
    try {
      const found = await resolveBundle(await session.repository(record.repo), { model: record.bundle, tag: record.tag });
      if (found.digest === record.digest) {
        updates.push({ ...base, status: 'up to date', to: found.digest });
        continue;
      }
      const result = await installBundle(session, record.repo, found, { home, progress, requireSigned });
      const bytesSkipped = result.members.reduce((sum, m) => sum + m.pull.bytesSkipped, 0);
      updates.push({ ...base, status: 'updated', to: found.digest, bytesTransferred: result.bytesTransferred, bytesSkipped });
    } catch (error) {
      if (!(error instanceof AimError)) throw error;
      updates.push({ ...base, status: 'failed', error: error.message });
    }
  }
  return { updates, problems: listing.problems.map((p) => p.message) };
}

/** `aim rm BUNDLE`: the bundle's record, then each member no other installed bundle names. */
export function removeBundle(home: string, text: string): Promise<Array<{ reference: string; released: Release[] }>> {
  return withBundlesLocked(home, async () => {
    const matched = matchBundles((await listBundleRecords(home)).records, text);
    if (matched.length === 0) throw new NotFoundError(`${text} is not installed`, { hint: 'see what is with `aim installed`' });
    const removed: Array<{ reference: string; released: Release[] }> = [];
    for (const record of matched) {
      await removeBundleRecord(home, record);
      removed.push({ reference: bundleReference(record), released: await releaseMembers(home, record, []) });
    }
    return removed;
  });
}
