// What pull, verify and inspect do with a bundle: the same as with a version, once per member. Members are read as
// model versions only (a bundle never holds a bundle), and a member whose version the repository lacks is damage
// to the bundle, named as such.
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { IntegrityError, NotFoundError } from '../../lib/errors.js';
import type { Digest } from '../format/digest.js';
import { manifestSize, type Manifest } from '../format/manifest.js';
import type { BundleMember } from '../format/schemas/bundle.js';
import type { ResolvedBundle } from '../store/bundles.js';
import type { Repository } from '../store/repository.js';
import { planPull, type PlannedPull, type PullOptions, type PullResult } from '../transfer/pull.js';
import { refuseUsersFiles } from '../transfer/pull-wanted.js';
import { verify, type VerifyOptions, type VerifyResult } from '../verify/verify.js';

export const bundleName = (repo: Repository, found: ResolvedBundle): string => `${repo.name}/${found.name}${found.tag ? `:${found.tag}` : `@${found.digest}`}`;

/** `read()` of a member, with "version not found" said as the bundle's damage (exit 4, not 3). */
export async function memberRead<T>(repo: Repository, found: ResolvedBundle, member: BundleMember, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    throw new IntegrityError(`bundle ${bundleName(repo, found)} names ${member.model}@${member.digest}, which repository ${repo.name} does not hold`, {
      hint: `push that version again, or make the bundle again from versions that exist (\`aim bundle ... --force\`)`,
    });
  }
}

export interface BundleHeader {
  repo: string;
  bundle: string;
  tag?: string;
  digest: Digest;
  kind: 'bundle';
}

const headerOf = (repo: Repository, found: ResolvedBundle): BundleHeader => ({
  repo: repo.name,
  bundle: found.name,
  ...(found.tag ? { tag: found.tag } : {}),
  digest: found.digest,
  kind: 'bundle',
});

export interface BundlePullResult extends BundleHeader {
  dest: string;
  members: PullResult[];
  totalBytes: number;
  bytesTransferred: number;
}

/**
 * Each member into DEST/<member model>; every folder from DEST down must be a real one (a planted link is refused).
 * Every member's folder is looked at before any is pulled: the user's files in any of them stop the whole bundle, in
 * one refusal, with no member half there.
 */
export async function pullBundle(repo: Repository, found: ResolvedBundle, destination: string, options: PullOptions = {}): Promise<BundlePullResult> {
  const dest = resolve(destination);
  await mkdir(dest, { recursive: true });
  const planned = new Map<BundleMember, PlannedPull>();
  const members: PullResult[] = [];
  try {
    // Each plan holds its member's folder (its lock) until run: taken in one order, by name, so that two bundles
    // naming the same members in other orders never each hold one the other waits for.
    for (const member of [...found.bundle.members].sort((a, b) => (a.model < b.model ? -1 : 1))) {
      const selector = { model: member.model, digest: member.digest };
      planned.set(member, await memberRead(repo, found, member, () => planPull(repo, selector, join(dest, member.model), { ...options, within: dest })));
    }
    if (!options.force) refuseUsersFiles(found.bundle.members.flatMap((member) => planned.get(member)!.wanted));
    for (const member of found.bundle.members) {
      members.push(await planned.get(member)!.run());
      planned.delete(member);
    }
  } finally {
    // The plans not run (one failed, or the bundle was refused) let go of their folders as they found them.
    for (const plan of planned.values()) await plan.cancel();
  }
  const sum = (pick: (r: PullResult) => number) => members.reduce((total, r) => total + pick(r), 0);
  return { ...headerOf(repo, found), dest, members, totalBytes: sum((r) => r.totalBytes), bytesTransferred: sum((r) => r.bytesTransferred) };
}

export type BundleVerifyResult = VerifyResult & BundleHeader;

/** Every member's chunks, re-read and re-hashed in one pass (a chunk two members share is read once). */
export async function verifyBundle(repo: Repository, found: ResolvedBundle, options: VerifyOptions = {}): Promise<BundleVerifyResult> {
  const versions = found.bundle.members.map((m) => ({ model: m.model, tag: m.tag ?? m.digest.slice(7, 19), digest: m.digest }));
  return { ...(await verify(repo, { ...options, versions })), ...headerOf(repo, found) };
}

export interface InspectedMember extends BundleMember {
  manifest: Manifest;
}

export interface BundleInspection extends BundleHeader {
  totalBytes: number;
  members: InspectedMember[];
  annotations: Record<string, string>;
}

/** The bundle with each member's manifest (read and checked, so a missing member is found here). */
export async function inspectBundle(repo: Repository, found: ResolvedBundle): Promise<BundleInspection> {
  const members: InspectedMember[] = [];
  for (const member of found.bundle.members) {
    const manifest = await memberRead(repo, found, member, () => repo.getManifest(member.digest));
    // Sizes from the manifest itself: the bundle's own figures are only what its writer claimed.
    members.push({ ...member, size: manifestSize(manifest), files: manifest.files.length, manifest });
  }
  const totalBytes = members.reduce((sum, m) => sum + m.size, 0);
  return { ...headerOf(repo, found), totalBytes, members, annotations: found.bundle.annotations };
}
