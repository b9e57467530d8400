import { Command, Option } from 'clipanion';
import { shortDigest } from '../../core/format/digest.js';
import { NotFoundError } from '../../lib/errors.js';
import { checkModelName } from '../../core/format/names.js';
import { AimCommand } from '../base.js';
import { formatAge, formatBytes, table } from '../render/format.js';

export class ModelVersionsCommand extends AimCommand {
  static override paths = [['model', 'versions']];
  static override usage = Command.Usage({
    category: 'Models',
    description: 'list the versions (tags) of a model, oldest first',
    examples: [['List versions', '$0 model versions team-vision resnet50-finetuned']],
  });

  repo = Option.String({ name: 'REPO' });
  model = Option.String({ name: 'MODEL' });

  async run(): Promise<void> {
    const repository = await this.repository(this.repo);
    const tags = await repository.listTags(checkModelName(this.model));
    if (tags.length === 0) {
      throw new NotFoundError(`model ${this.model} not found in repository ${this.repo}`, { hint: `aim model list ${this.repo}` });
    }
    this.report({ repo: this.repo, model: this.model, versions: tags }, () =>
      table(
        ['TAG', 'DIGEST', 'FILES', 'SIZE', 'PUSHED'],
        tags.map((t) => [t.tag, shortDigest(t.digest), String(t.files), formatBytes(t.size), formatAge(t.pushedAt)]),
      ),
    );
  }
}
