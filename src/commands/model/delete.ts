import { Command, Option } from 'clipanion';
import { deleteModel } from '../../core/store/delete.js';
import { checkModelName } from '../../core/format/names.js';
import { AimCommand } from '../base.js';
import { counted } from '../../lib/plural.js';

export class ModelDeleteCommand extends AimCommand {
  static override paths = [['model', 'delete']];
  static override usage = Command.Usage({
    category: 'Models',
    description: 'delete a model and all its versions',
    examples: [['Delete a model', '$0 model delete team-vision resnet50-finetuned']],
  });

  repo = Option.String({ name: 'REPO' });
  model = Option.String({ name: 'MODEL' });

  async run(): Promise<void> {
    const result = await deleteModel(await this.repository(this.repo), checkModelName(this.model));
    this.warnAbout(result.problems);
    this.report({ repo: this.repo, model: this.model, ...result }, () => `deleted ${this.repo}/${this.model} (${counted(result.deleted.length, 'tag')})`);
  }
}
