import { Command, Option } from 'clipanion';
import { removeRepository } from '../../core/config/config-edit.js';
import { AimCommand } from '../base.js';

export class RepoDeleteCommand extends AimCommand {
  static override paths = [['repo', 'delete']];
  static override usage = Command.Usage({
    category: 'Repositories',
    description: 'remove a repository from model_repos.yaml (its data is not touched)',
    examples: [['Forget a repository', '$0 repo delete team-vision']],
  });

  name = Option.String({ name: 'NAME' });

  async run(): Promise<void> {
    const filepath = await removeRepository((await this.session()).config, this.name);
    this.report({ name: this.name, config: filepath }, () => `repository ${this.name} removed from ${filepath} (data untouched)`);
  }
}
