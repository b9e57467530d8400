import { pullBundle, type BundleInspection, type BundlePullResult, type BundleVerifyResult } from '../core/bundle/bundle-actions.js';
import type { ResolvedBundle } from '../core/bundle/bundle-target.js';
import type { BundleInstallResult } from '../core/bundle/install-bundle.js';
import type { RunResult } from '../core/serve/serve.js';
import { trustPolicyFor } from '../core/config/trust-policy.js';
import { UsageError } from '../lib/errors.js';
import { counted } from '../lib/plural.js';
import type { AimCommand } from './base.js';
import { formatBytes, table } from './render/format.js';
import type { SignedPullFlags } from './signing-options.js';

// The bundle side of pull, verify and inspect on the terminal: one line per member, one summary.

const title = (r: { repo: string; bundle: string; tag?: string; digest: string }): string => `bundle ${r.repo}/${r.bundle}${r.tag ? `:${r.tag}` : ''} (${r.digest.slice(7, 19)})`;

/** `aim pull REPO/BUNDLE[:TAG] DEST`: every member under the user's trust policy, each into DEST/<member>. */
export async function pullBundleUnderPolicy(command: AimCommand, found: ResolvedBundle, repoName: string, dest: string, flags: SignedPullFlags): Promise<void> {
  if (flags.writeSignature) {
    throw new UsageError('--write-signature writes one version\'s model.sig, and a bundle holds several', { hint: 'pull each member with `aim pull REPO/MODEL@DIGEST DIR --write-signature`' });
  }
  const session = await command.session();
  const trust = await trustPolicyFor(session.config, repoName, flags.requireSigned);
  const repository = await session.repository(repoName);
  const result = await pullBundle(repository, found, dest, { progress: command.progress(), concurrency: flags.concurrency, select: flags.select, trust, force: flags.force });
  command.report(result, () => describeBundlePull(result));
}

function describeBundlePull(result: BundlePullResult): string {
  const rows = result.members.map((m) => [m.model, m.digest.slice(7, 19), `${m.files}`, formatBytes(m.totalBytes), formatBytes(m.bytesTransferred), m.dest]);
  return [
    `${title(result)} pulled into ${result.dest}`,
    table(['MEMBER', 'DIGEST', 'FILES', 'SIZE', 'TRANSFERRED', 'FOLDER'], rows),
    `${counted(result.members.length, 'member')}, ${formatBytes(result.totalBytes)}, ${formatBytes(result.bytesTransferred)} transferred`,
  ].join('\n');
}

export function describeBundleVerify(result: BundleVerifyResult): string {
  return `${title(result)}: ${counted(result.versions, 'member version')}, ${result.chunksChecked}/${counted(result.chunks, 'chunk')} checked (${formatBytes(result.bytesChecked)})`;
}

export function describeBundleInspection(result: BundleInspection): string {
  return [
    title(result),
    `digest  ${result.digest}`,
    `size    ${formatBytes(result.totalBytes)} in ${counted(result.members.length, 'member')}`,
    ...Object.entries(result.annotations).map(([key, value]) => `${key}: ${value}`),
    '',
    table(['MEMBER', 'TAG', 'DIGEST', 'FILES', 'SIZE'], result.members.map((m) => [m.model, m.tag ?? '-', m.digest.slice(7, 19), `${m.files}`, formatBytes(m.size)])),
  ].join('\n');
}

export function describeBundleInstall(result: BundleInstallResult): string {
  return [
    `installed bundle ${result.reference} (${result.digest.slice(7, 19)}): ${counted(result.members.length, 'member')}, ${formatBytes(result.bytesTransferred)} transferred`,
    ...result.members.map((m) => {
      const short = `${m.record.repo}/${m.record.model}@${m.record.digest.slice(7, 19)}`;
      return `  ${short.padEnd(40)} ${formatBytes(m.pull.totalBytes).padStart(10)}   run it: aim run ${short}`;
    }),
  ].join('\n');
}

export function describeBundleRun(results: RunResult[]): string {
  return [
    `✨ ${counted(results.length, 'model')} deployed`,
    ...results.map(({ record }) => `   ${record.name.padEnd(24)} ${record.endpoint}   (model "${record.modelId}"; stop: aim stop ${record.name})`),
  ].join('\n');
}
