import { Command, Option } from 'clipanion';
import { setSetting } from '../../core/config/settings-edit.js';
import { settingText } from '../../settings/settings-table.js';
import { AimCommand } from '../base.js';
import { formatWarning } from '../render/errors.js';
import { describeSource, type SettingSource } from '../../settings/resolve-settings.js';
import type { Session } from '../../core/session.js';

export class ConfigSetCommand extends AimCommand {
  static override paths = [['config', 'set']];
  static override usage = Command.Usage({
    category: 'Settings',
    description: "set a setting in the aim: section of model_repos.yaml (comments and layout are kept)",
    examples: [
      ['Serve on ports 8100-8199', '$0 config set serve.ports 8100-8199'],
      ['Smaller chunks for repositories created from now on', '$0 config set chunking.avg 256KiB'],
    ],
  });

  key = Option.String({ name: 'KEY' });
  value = Option.String({ name: 'VALUE' });

  protected override configMayBeNew = true; // it writes the file --config names

  async run(): Promise<void> {
    const session = await this.session();
    const edit = await setSetting(session.config, this.key, this.value);
    const text = settingText(edit.value);
    // A variable set in this shell still wins over the file: say so rather than let the edit look ignored. The
    // settings as they were before the edit tell, since a variable wins whatever the file holds.
    const source = settingSourceOrUndefined(session, edit.key);
    if (source?.kind === 'env') this.context.stderr.write(formatWarning(`${describeSource(source)} overrides ${edit.key} in this shell`));
    const value = typeof edit.value === 'object' ? text : edit.value;
    this.report({ ...edit, value }, () => `${edit.key} = ${text} (written to ${edit.file})`);
  }
}

/** Where the setting came from, or undefined when the settings did not read before the edit (nothing to compare). */
function settingSourceOrUndefined(session: Session, key: string): SettingSource | undefined {
  try {
    return session.settings().get(key).source;
  } catch {
    return undefined;
  }
}
