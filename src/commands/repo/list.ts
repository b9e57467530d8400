import { Command } from 'clipanion';
import { AimCommand } from '../base.js';
import { table } from '../render/format.js';

export class RepoListCommand extends AimCommand {
  static override paths = [['repo', 'list'], ['repo', 'ls']];
  static override usage = Command.Usage({
    category: 'Repositories',
    description: 'list the repositories in model_repos.yaml',
    examples: [['List repositories', '$0 repo list']],
  });

  async run(): Promise<void> {
    const { config } = await this.session();
    const repositories = config.repositories.map(({ name, type, path, region, endpoint }) => ({ name, type, path, region, endpoint }));
    this.report({ config: config.filepath ?? null, repositories }, () =>
      repositories.length === 0
        ? `no repositories configured${config.filepath ? ` in ${config.filepath}` : ''} (add one with \`aim repo create NAME --type local --path PATH\`)`
        : table(['NAME', 'TYPE', 'PATH', 'ENDPOINT'], repositories.map((r) => [r.name, r.type, r.path, r.endpoint ?? ''])),
    );
  }
}
