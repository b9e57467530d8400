import { Command } from 'clipanion';
import { listInstalled } from '../core/install/installed.js';
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
  command.context.stderr.write(formatWarnings(report.problems.map((problem) => `skipped ${problem}`), (more) => `skipped ${counted(more, 'more install record')} (--json lists them all)`));
  command.report(report, () => describeInstalled(report));
}
