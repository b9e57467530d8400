import { Command, Option } from 'clipanion';
import { checkModelName, checkRepoName, checkTagName } from '../core/format/names.js';
import { parseReference } from '../core/format/reference.js';
import { resolveVersion } from '../core/store/resolve.js';
import { trustedKeys } from '../core/config/trust-policy.js';
import { copy, type CopyResult } from '../core/transfer/copy.js';
import type { TrustedKey } from '../core/signing/policy.js';
import { AimCommand } from './base.js';
import { formatBytes } from './render/format.js';

/** `DST_REPO`, `DST_REPO/MODEL` or `DST_REPO/MODEL:TAG`. */
function parseDestination(text: string): { repo: string; model?: string; tag?: string } {
  const slash = text.indexOf('/');
  if (slash < 0) return { repo: checkRepoName(text) };
  const rest = text.slice(slash + 1);
  const colon = rest.indexOf(':');
  return colon < 0
    ? { repo: checkRepoName(text.slice(0, slash)), model: checkModelName(rest) }
    : { repo: checkRepoName(text.slice(0, slash)), model: checkModelName(rest.slice(0, colon)), tag: checkTagName(rest.slice(colon + 1)) };
}

export class CopyCommand extends AimCommand {
  static override paths = [['copy']];
  static override usage = Command.Usage({
    category: 'Models',
    description: 'copy a version (or every tag of a model) to another repository, sending only the chunks it lacks',
    details: `
      Works between any two repositories (a folder and a bucket, either way). Every chunk is checked against its
      BLAKE3 as it is read from the source; the manifest is copied byte for byte, so the version keeps its digest.
      Interrupted, the same command resumes. A tag at the destination that names other content is refused unless
      --force. Signatures that sign exactly the version's files come along (before the tags move), so a trust
      policy on the destination accepts what it accepted on the source.
    `,
    examples: [
      ['Copy v1.0 from the NFS repository to the bucket', '$0 copy nfs/resnet50:v1.0 s3-team'],
      ['Copy under another name', '$0 copy nfs/resnet50:v1.0 s3-team/resnet:stable'],
      ['Copy every tag', '$0 copy nfs/resnet50 s3-team --all-tags'],
    ],
  });

  source = Option.String({ name: 'SRC_REPO/MODEL[:TAG|@DIGEST]' });
  destination = Option.String({ name: 'DST_REPO[/MODEL[:TAG]]' });
  allTags = Option.Boolean('--all-tags', false, { description: 'copy every tag of the model' });
  force = Option.Boolean('--force', false, { description: 'move destination tags that name other content' });

  async run(): Promise<void> {
    const explicitTag = /^[^/]+\/[^:@]+[:@]/.test(this.source);
    const ref = parseReference(this.source);
    const dst = parseDestination(this.destination);
    const source = await this.repository(ref.repo);
    // A short digest (as `aim model versions` prints it) names the version its whole digest would.
    const digest = ref.digest ?? (ref.digestPrefix ? (await resolveVersion(source, ref)).digest : undefined);
    const result = await copy({
      source,
      selector: { model: ref.model, tag: this.allTags && !explicitTag ? undefined : ref.tag, digest },
      allTags: this.allTags,
      destination: await this.repository(dst.repo),
      model: dst.model,
      tag: dst.tag,
      force: this.force,
      progress: this.progress(),
      trustedKeys: await this.trustedKeys(ref.repo, dst.repo),
    });
    this.warnAbout(result.problems);
    this.report(result, () => describe(result));
  }

  /** The keys trusted for either repository, each once. */
  private async trustedKeys(...repos: string[]): Promise<TrustedKey[]> {
    const { config } = await this.session();
    const keys = new Map<string, TrustedKey>();
    for (const repo of repos) for (const key of await trustedKeys(config, repo)) if (!keys.has(key.keyId)) keys.set(key.keyId, key);
    return [...keys.values()];
  }
}

function describe(result: CopyResult): string {
  const lines = result.versions.map((v) => {
    const signed = v.signatures.length === 0 ? '' : ` (${v.signatures.length} signature${v.signatures.length === 1 ? '' : 's'} carried)`;
    return `${result.destination}/${result.model}: ${v.tags.map((t) => `${t.tag} ${t.outcome}`).join(', ')} -> ${v.digest}${signed}`;
  });
  lines.push(`moved ${formatBytes(result.bytesMoved)}, skipped ${formatBytes(result.bytesSkipped)} already there (${result.chunks} chunks, ${result.seconds.toFixed(1)} s)`);
  return lines.join('\n');
}
