import { Command, Option } from 'clipanion';
import { PushingCommand } from './transfer-options.js';
import { parseTaggedReference } from './tagged-reference.js';
import { isFolderPath } from './path-argument.js';

export class PushCommand extends PushingCommand {
  static override paths = [['push']];
  static override usage = Command.Usage({
    category: 'Models',
    description: 'push a folder as REPO/MODEL:TAG (short form of `aim model push`)',
    examples: [['Push v1.0', '$0 push team-vision/resnet50:v1.0 ./checkpoint_v1']],
  });

  reference = Option.String({ name: 'REPO/MODEL[:TAG]' });
  source = Option.String({ name: 'DIR', validator: isFolderPath });

  async run(): Promise<void> {
    const ref = parseTaggedReference(this.reference, 'push', 'aim push repo/model:v1.0 ./dir');
    await this.pushAndReport(ref.repo, ref.model, ref.tag, this.source);
  }
}
