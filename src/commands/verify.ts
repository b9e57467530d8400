import { Command, Option } from 'clipanion';
import { parseModelSelector } from '../core/format/reference.js';
import { IntegrityError, NotFoundError, UsageError } from '../lib/errors.js';
import { verify, type VerifyProblem, type VerifyResult } from '../core/verify/verify.js';
import { orBundle } from '../core/bundle/bundle-target.js';
import { verifyBundle, type BundleVerifyResult } from '../core/bundle/bundle-actions.js';
import { describeBundleVerify } from './bundle-render.js';
import { lstat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { verifyFolder } from '../core/verify/verify-folder.js';
import { AimCommand } from './base.js';
import { verifySignatures } from './verify-signatures.js';
import { concurrencyOption } from './transfer-options.js';
import { formatBytes } from './render/format.js';
import { counted } from '../lib/plural.js';

export class VerifyCommand extends AimCommand {
  static override paths = [['verify']];
  static override usage = Command.Usage({
    category: 'Models',
    description: 're-hash every chunk reachable from the tags and report missing or corrupt ones',
    details: 'Exits non-zero if anything is missing or corrupt, naming each chunk and the files that use it.',
    examples: [
      ['Verify a whole repository', '$0 verify team-vision'],
      ['Verify one version', '$0 verify team-vision resnet50:v1.0'],
      ['Verify every member of a bundle', '$0 verify team-llm rag-kit:v1'],
      ['Check a 10% sample', '$0 verify team-vision --sample 10'],
      ['Check a pulled folder (a subset pull: the files it took)', '$0 verify ./models/resnet50'],
      ['Show and check who signed each version (reads no chunks)', '$0 verify team-vision --signatures'],
      ['Remove corrupt chunks, then restore them from a good copy', '$0 verify team-vision --repair && $0 model push team-vision resnet50 ./good-copy --tag v1.0'],
    ],
  });

  repo = Option.String({ name: 'REPO' });
  target = Option.String({ name: 'MODEL[:TAG]', required: false });
  sample = Option.String('--sample', { description: 'check only this percentage of the chunks, chosen at random' });
  repair = Option.Boolean('--repair', false, { description: 'delete corrupt chunks and make the next push check every chunk, so pushing a good copy stores missing and corrupt ones again' });

  signatures = Option.Boolean('--signatures', false, { description: "check who signed each version instead of the chunks (against the repository's trusted keys)" });
  concurrency = concurrencyOption();

  async run(): Promise<void> {
    // A repository name never holds a slash: a path does (./dir, /abs/dir).
    if (this.repo.includes('/') || this.repo === '.') return this.verifyPulledFolder(this.repo);
    await this.notAFolderName();
    const { model, tag } = this.target ? parseModelSelector(this.target) : { model: undefined, tag: undefined };
    if (this.signatures) return verifySignatures(this, this.repo, { model, tag });
    const samplePercent = this.sample === undefined ? undefined : Number(this.sample);
    if (samplePercent !== undefined && !(samplePercent > 0 && samplePercent <= 100)) {
      throw new UsageError(`--sample ${this.sample} is not a percentage`, { hint: 'give a number above 0 and at most 100' });
    }
    const options = { model, tag, samplePercent, repair: this.repair, progress: this.progress(), concurrency: this.concurrency };
    const repository = () => this.repository(this.repo);
    const verifyTags = async (): Promise<VerifyResult | BundleVerifyResult> => verify(await repository(), options);
    // MODEL may name a bundle: then each member's chunks are checked.
    const result = model === undefined ? await verifyTags() : await orBundle(repository, { repo: this.repo, model, tag }, verifyTags, (found, repo) => verifyBundle(repo, found, options));
    this.report({ ...result, ok: result.problems.length === 0 }, () => {
      const lines = result.problems.map(describeProblem);
      const summary = isBundleResult(result) ? describeBundleVerify(result) : `${result.repo}: ${counted(result.versions, 'version')}, ${result.chunksChecked}/${counted(result.chunks, 'chunk')} checked (${formatBytes(result.bytesChecked)})`;
      return [...lines, result.problems.length ? `${summary}: ${counted(result.problems.length, 'problem')}` : `${summary}: all good`].join('\n');
    });
    if (result.problems.length > 0) {
      throw new IntegrityError(`${counted(result.problems.length, 'missing or corrupt object')} in ${this.repo}`, {
        hint: `${this.repair ? 'corrupt chunks were removed; ' : 'run with --repair, then '}push the affected versions again from a good copy`,
      });
    }
  }

  /**
   * `aim verify models` meant as the folder pulled into, not a repository: the configuration's "not configured"
   * would send the user to `aim repo create`; say how to name the folder instead.
   */
  private async notAFolderName(): Promise<void> {
    const config = (await this.session()).config;
    if (config.repositories.some((repo) => repo.name === this.repo)) return;
    if (!(await lstat(join(this.repo, '.aim')).catch(() => undefined))) return;
    throw new NotFoundError(`repository "${this.repo}" is not in ${config.filepath ?? 'the configuration'}; ${this.repo} here is a folder aim pulled into`, {
      hint: `verify the folder with \`aim verify ./${this.repo}\` (a path holds a slash)`,
    });
  }

  private async verifyPulledFolder(folder: string): Promise<void> {
    const result = await verifyFolder(resolve(folder));
    const bad = [...result.missing.map((p) => `MISSING ${p}`), ...result.corrupt.map((p) => `CORRUPT ${p}`)];
    this.report({ ...result, ok: bad.length === 0 }, () => {
      const subset = result.subset ? `; a subset: ${result.subset.files} of the version's ${result.subset.versionFiles} files${result.subset.quant ? ` (${result.subset.quant})` : ''}` : '';
      return [...bad, `${result.folder}: ${result.filesChecked} files checked (${formatBytes(result.bytesChecked)})${subset}${bad.length ? '' : ': all good'}`].join('\n');
    });
    // A pull replaces a file that differs only when forced: it cannot tell damage from an edit the user wants kept.
    const hint = result.corrupt.length > 0 ? 'pull the version into it again with --force, which replaces the files that differ' : 'pull the version into it again';
    if (bad.length > 0) throw new IntegrityError(`${bad.length} files of ${result.folder} are missing or differ from its version`, { hint });
  }
}

function describeProblem(problem: VerifyProblem): string {
  // A tag that does not read back names no chunks: its key is what the user must look at.
  if (problem.kind === 'bad-tag') return `BAD-TAG ${problem.digest}: ${problem.message}`;
  return `${problem.kind.toUpperCase()} ${problem.message}\n  used by: ${problem.usedBy.join(', ')}`;
}

const isBundleResult = (result: VerifyResult | BundleVerifyResult): result is BundleVerifyResult => 'kind' in result && result.kind === 'bundle';
