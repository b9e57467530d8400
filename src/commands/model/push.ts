import { Command, Option } from 'clipanion';
import { checkModelName, checkTagName } from '../../core/format/names.js';
import { PushingCommand } from '../transfer-options.js';
import { isFolderPath } from '../path-argument.js';

export class ModelPushCommand extends PushingCommand {
  static override paths = [['model', 'push']];
  static override usage = Command.Usage({
    category: 'Models',
    description: 'push a folder (or one file) as a new version of a model',
    details: `
      Files are cut into content-defined chunks and only chunks the repository lacks are sent, so pushing a
      changed version or re-running an interrupted push moves only what is new. Creates the model if missing.
      A version tag is immutable: pushing other content under an existing tag is refused unless --force.
      \`latest\` follows the newest push. Every name in the folder must be one a pull can write (no control
      characters or backslashes, parts up to 255 bytes, paths up to 1024): a folder holding another is refused
      before anything is sent, naming each such file.
    `,
    examples: [
      ['Push a checkpoint as v1.0', '$0 model push team-vision resnet50-finetuned ./checkpoint_v1 --tag v1.0'],
      ['Push only the weights', '$0 model push team-vision resnet50 ./ckpt --tag v2.0 --include "*.safetensors"'],
    ],
  });

  repo = Option.String({ name: 'REPO' });
  model = Option.String({ name: 'MODEL' });
  source = Option.String({ name: 'DIR', validator: isFolderPath });
  tag = Option.String('--tag', 'latest', { description: 'version tag to create (default: latest)' });

  async run(): Promise<void> {
    await this.pushAndReport(this.repo, checkModelName(this.model), checkTagName(this.tag), this.source);
  }
}
