import { Command } from 'clipanion';
import { listInstalled } from '../core/install/installed.js';
import { listBundleRecords } from '../core/bundle/bundle-records.js';
import { aimHome } from '../settings/home.js';
import { AimCommand } from './base.js';
import { counted } from '../lib/plural.js';
import { formatWarnings } from './render/errors.js';
import { describeInstalled } from './render/installed.js';

export class InstalledCommand extends AimCommand {
  static override paths = [['installed']];
  static override usage = Command.Usage({
    category: 'Models',
    description: 'list the models installed under AIM_HOME, with the disk space each takes',
    details: 'Disk use is what the files take on disk; a version installed under two tags is counted once in the total.',
    examples: [['List installed models', '$0 installed'], ['As JSON', '$0 installed --json']],
  });

  async run(): Promise<void> {
    return listInstalledModels(this);
  }
}

/** `aim installed` and `aim list --installed`. */
export async function listInstalledModels(command: AimCommand): Promise<void> {
  const report = await listInstalled(aimHome());
  // Installed bundles: their members are listed above, each pinned by digest.
  const bundles = await listBundleRecords(aimHome());
  const problems = [...report.problems, ...bundles.problems.map((p) => p.message)];
  command.context.stderr.write(formatWarnings(problems.map((problem) => `skipped ${problem}`), (more) => `skipped ${counted(more, 'more install record')} (--json lists them all)`));
  const bundleLines = bundles.records.map((b) => `bundle ${b.repo}/${b.bundle}:${b.tag} (${b.digest.slice(7, 19)}): ${b.members.map((m) => `${m.model}@${m.digest.slice(7, 19)}`).join(', ')}`);
  command.report({ ...report, bundles: bundles.records }, () => [describeInstalled(report), ...bundleLines].join('\n'));
}
