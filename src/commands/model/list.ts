import { Command, Option } from 'clipanion';
import type { TagRecord } from '../../core/store/repository.js';
import { AimCommand } from '../base.js';
import { formatAge, formatBytes, table } from '../render/format.js';

export class ModelListCommand extends AimCommand {
  static override paths = [['model', 'list'], ['model', 'ls']];
  static override usage = Command.Usage({
    category: 'Models',
    description: 'list the models in a repository',
    examples: [['List models', '$0 model list team-vision'], ['As JSON', '$0 model list team-vision --json']],
  });

  repo = Option.String({ name: 'REPO' });

  async run(): Promise<void> {
    const repository = await this.repository(this.repo);
    const models: Array<{ name: string; versions: number; tags: string[]; latest?: TagRecord }> = [];
    for (const name of await repository.listModels()) {
      const tags = await repository.listTags(name);
      const newest = tags.at(-1);
      models.push({ name, versions: tags.filter((t) => t.tag !== 'latest').length, tags: tags.map((t) => t.tag), latest: newest });
    }
    this.report({ repo: this.repo, models }, () =>
      models.length === 0
        ? `no models in ${this.repo} yet (push one with \`aim model push ${this.repo} MODEL DIR --tag v1\`)`
        : table(
            ['MODEL', 'TAGS', 'SIZE', 'UPDATED'],
            models.map((m) => [m.name, m.tags.join(', '), m.latest ? formatBytes(m.latest.size) : '-', m.latest ? formatAge(m.latest.pushedAt) : '-']),
          ),
    );
  }
}
