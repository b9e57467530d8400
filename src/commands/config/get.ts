import { Command, Option } from 'clipanion';
import { knownSetting } from '../../settings/settings-table.js';
import { AimCommand } from '../base.js';
import { settingJson } from './settings-json.js';

export class ConfigGetCommand extends AimCommand {
  static override paths = [['config', 'get']];
  static override usage = Command.Usage({
    category: 'Settings',
    description: 'print the effective value of one setting',
    examples: [['Context size in use', '$0 config get serve.ctx-size'], ['With its source, as JSON', '$0 config get serve.ctx-size --json']],
  });

  key = Option.String({ name: 'KEY' });

  async run(): Promise<void> {
    knownSetting(this.key);
    const setting = (await this.session()).settings().get(this.key);
    this.report(settingJson(setting), () => setting.text);
  }
}
