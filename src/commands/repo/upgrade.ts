import { Command, Option } from 'clipanion';
import { upgradeRepository } from '../../core/store/upgrade.js';
import { IntegrityError } from '../../lib/errors.js';
import { AimCommand } from '../base.js';
import { concurrencyOption } from '../transfer-options.js';
import { counted } from '../../lib/plural.js';

export class RepoUpgradeCommand extends AimCommand {
  static override paths = [['repo', 'upgrade']];
  static override usage = Command.Usage({
    category: 'Repositories',
    description: 'write the location maps and key objects a repository pushed to by an older aim lacks',
    details:
      'Pull, run and verify of a version read its location map instead of the whole index, and a push finds chunks other models stored through key objects. This writes both from the whole index, for every tagged version whose map is missing or damaged. It writes only these derived files: interrupted, run it again; run on an upgraded repository, it writes nothing. Exits 4 if a version has chunks no index file names (`aim verify` says which).',
    examples: [
      ['Upgrade a repository', '$0 repo upgrade team-vision'],
      ['Upgrade and print a summary as JSON', '$0 repo upgrade team-vision --json'],
    ],
  });

  repo = Option.String({ name: 'REPO' });
  concurrency = concurrencyOption();

  async run(): Promise<void> {
    const progress = this.progress();
    const result = await upgradeRepository(await this.repository(this.repo), { concurrency: this.concurrency, note: (line) => progress.note(line) });
    this.warnAbout(result.problems);
    this.report(result, () => {
      const lines = result.failed.map((failure) => `FAILED ${failure.usedBy.join(', ')} (${failure.digest}): ${failure.message}`);
      const mapped = `${counted(result.versionsMapped, 'version')} mapped, ${result.alreadyMapped} already mapped, ${result.failed.length} failed`;
      return [...lines, `${result.repo}: ${mapped}; ${result.keysWritten} key objects written`].join('\n');
    });
    if (result.failed.length > 0) {
      throw new IntegrityError(`${counted(result.failed.length, 'version')} of ${this.repo} could not be mapped`, {
        hint: `run \`aim verify ${this.repo}\`, push those versions again from a good copy, then run the upgrade again`,
      });
    }
  }
}
