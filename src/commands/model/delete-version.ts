import { Command, Option } from 'clipanion';
import { deleteVersion } from '../../core/store/delete.js';
import { checkModelName, checkTagName } from '../../core/format/names.js';
import { AimCommand } from '../base.js';

export class ModelDeleteVersionCommand extends AimCommand {
  static override paths = [['model', 'delete-version']];
  static override usage = Command.Usage({
    category: 'Models',
    description: 'delete one version (tag) of a model',
    details: 'Removes the tag. Chunks shared with other versions stay; unreferenced data is left for a later `aim gc`.',
    examples: [['Delete v1.0', '$0 model delete-version team-vision resnet50-finetuned --tag v1.0']],
  });

  repo = Option.String({ name: 'REPO' });
  model = Option.String({ name: 'MODEL' });
  tag = Option.String('--tag', { required: true, description: 'version tag to delete' });

  async run(): Promise<void> {
    const result = await deleteVersion(await this.repository(this.repo), checkModelName(this.model), checkTagName(this.tag));
    this.warnAbout(result.problems);
    this.report({ repo: this.repo, model: this.model, ...result }, () => `deleted ${this.repo}/${this.model}: ${result.deleted.join(', ')}`);
  }
}
