import { Command, Option } from 'clipanion';
import { browseCatalogs, type CatalogView } from '../core/catalog/browse.js';
import { AimCommand } from './base.js';
import { listInstalledModels } from './installed.js';
import { catalogWarnings, oneLine } from './render/catalog.js';
import { formatAge, formatBytes, table } from './render/format.js';

export class ListCommand extends AimCommand {
  static override paths = [['list'], ['ls']];
  static override usage = Command.Usage({
    category: 'Catalog',
    description: 'list every model of every configured repository',
    details: `
      Reads each repository's catalog (index.json, checked against its catalog/ entries): one or two reads per
      repository, however many models it holds. A repository that cannot be reached is named on stderr and the
      others are still listed. \`aim model list REPO\` lists one repository from its tags instead.
    `,
    examples: [
      ['Everything', '$0 list'],
      ['One repository', '$0 list --repo team-nlp'],
      ['Models whose name or description mentions "chat"', '$0 list --filter chat'],
      ['As JSON', '$0 list --json'],
      ['What is installed under AIM_HOME, with disk use', '$0 list --installed'],
    ],
  });

  repos = Option.Array('--repo', [], { description: 'list only this repository (repeatable; default: all)' });
  filter = Option.String('--filter', { description: 'only models whose name, description or quantization contains this text' });
  installed = Option.Boolean('--installed', false, { description: 'list what is installed under AIM_HOME instead, with disk use (as `aim installed`)' });

  async run(): Promise<void> {
    if (this.installed) return listInstalledModels(this);
    const view = await browseCatalogs(await this.session(), this.repos);
    const needle = this.filter?.toLowerCase();
    const models = needle ? view.models.filter(({ entry }) => [entry.model, entry.description ?? '', ...entry.quantizations].some((text) => text.toLowerCase().includes(needle))) : view.models;
    this.context.stderr.write(catalogWarnings(view));
    this.report(listJson({ ...view, models }), () =>
      models.length === 0
        ? view.models.length === 0
          ? 'no models yet (push one with `aim push REPO/MODEL:TAG DIR --description TEXT`)'
          : `no model matches "${this.filter}"`
        : table(
            ['REPO', 'MODEL', 'TAGS', 'SIZE', 'QUANT', 'UPDATED', 'DESCRIPTION'],
            models.map(({ repo, entry }) => [
              repo,
              entry.kind === 'bundle' ? `${entry.model} (bundle of ${entry.members?.length ?? 0})` : entry.model,
              Object.keys(entry.tags).join(', '),
              formatBytes(entry.latest.size),
              entry.quantizations.join(',') || '-',
              formatAge(entry.tags[entry.latest.tag]?.pushedAt ?? entry.updatedAt),
              oneLine(entry.description ?? '', 40),
            ]),
          ),
    );
  }
}

function listJson(view: CatalogView) {
  return { ...view, models: view.models.map(({ repo, reference, entry }) => ({ repo, reference, ...entry })) };
}
