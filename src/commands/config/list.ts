import { Command } from 'clipanion';
import { AimCommand } from '../base.js';
import { table } from '../render/format.js';
import { SETTING_HEADERS, settingJson, settingRow } from './settings-json.js';

export class ConfigListCommand extends AimCommand {
  static override paths = [['config', 'list'], ['config', 'ls']];
  static override usage = Command.Usage({
    category: 'Settings',
    description: "list every setting with its effective value and where it came from (flag, env, config or default)",
    details: `
      Settings live in the \`aim:\` section of model_repos.yaml. Each one can be overridden by an environment variable,
      and on the commands that use it by a flag: flag > env > config > default.
    `,
    examples: [['List settings', '$0 config list'], ['As JSON', '$0 config list --json']],
  });

  async run(): Promise<void> {
    const session = await this.session();
    const settings = session.settings().list();
    this.report({ config: session.config.filepath ?? null, settings: settings.map(settingJson) }, () =>
      table(SETTING_HEADERS, settings.map(settingRow)));
  }
}
