import { Command, Option } from 'clipanion';
import { listModelSummaries } from '../../core/store/model-listing.js';
import { AimCommand } from '../base.js';
import { formatAge, formatBytes, table } from '../render/format.js';

export class ModelListCommand extends AimCommand {
  static override paths = [['model', 'list'], ['model', 'ls']];
  static override usage = Command.Usage({
    category: 'Models',
    description: 'list the models in a repository',
    details: 'A model folder or tag that does not read back is skipped with a warning (and listed under `problems` with --json).',
    examples: [['List models', '$0 model list team-vision'], ['As JSON', '$0 model list team-vision --json']],
  });

  repo = Option.String({ name: 'REPO' });

  async run(): Promise<void> {
    const listing = await listModelSummaries(await this.repository(this.repo));
    this.warnAbout(listing.problems);
    const { models } = listing;
    this.report(listing, () =>
      models.length === 0
        ? `no models in ${this.repo} yet (push one with \`aim model push ${this.repo} MODEL DIR --tag v1\`)`
        : table(
            ['MODEL', 'TAGS', 'SIZE', 'UPDATED'],
            models.map((m) => [m.name, m.tags.join(', '), m.latest ? formatBytes(m.latest.size) : '-', m.latest ? formatAge(m.latest.pushedAt) : '-']),
          ),
    );
  }
}
