import { Command } from 'clipanion';
import { aimHome } from '../settings/home.js';
import { aimVersion } from '../core/version.js';
import { AimCommand } from './base.js';
import { SETTING_HEADERS, settingJson, settingRow } from './config/settings-json.js';
import { table } from './render/format.js';

export class InfoCommand extends AimCommand {
  static override paths = [['info']];
  static override usage = Command.Usage({
    description: 'show the version, the config file in use, AIM_HOME, the repositories and every setting with its source',
    examples: [['Show info', '$0 info'], ['As JSON', '$0 info --json']],
  });

  async run(): Promise<void> {
    const session = await this.session();
    const { config } = session;
    const settings = session.settings().list();
    const info = {
      version: aimVersion(),
      node: process.version,
      config: config.filepath ?? null,
      aimHome: aimHome(),
      repositories: config.repositories.map(({ name, type, path, region, endpoint }) => ({ name, type, path, region, endpoint })),
      settings: settings.map(settingJson),
    };
    this.report(info, () =>
      [
        `aim ${info.version} (node ${info.node})`,
        `config     ${info.config ?? 'none found (aim repo create writes ./model_repos.yaml)'}`,
        `AIM_HOME   ${info.aimHome}`,
        '',
        info.repositories.length ? table(['REPOSITORY', 'TYPE', 'PATH'], info.repositories.map((r) => [r.name, r.type, r.path])) : 'no repositories',
        '',
        table(SETTING_HEADERS, settings.map(settingRow)),
      ].join('\n'),
    );
  }
}
