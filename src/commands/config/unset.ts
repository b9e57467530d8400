import { Command, Option } from 'clipanion';
import { unsetSetting } from '../../core/config/settings-edit.js';
import { AimCommand } from '../base.js';

export class ConfigUnsetCommand extends AimCommand {
  static override paths = [['config', 'unset']];
  static override usage = Command.Usage({
    category: 'Settings',
    description: "remove a setting from the aim: section of model_repos.yaml, back to its default",
    examples: [['Back to any free port', '$0 config unset serve.ports']],
  });

  key = Option.String({ name: 'KEY' });

  async run(): Promise<void> {
    const edit = await unsetSetting((await this.session()).config, this.key);
    this.report(edit, () => `${edit.key} removed from ${edit.file}`);
  }
}
