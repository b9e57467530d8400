import { Command, Option } from 'clipanion';
import { removeTrustedKey } from '../../core/config/trust-edit.js';
import { AimCommand } from '../base.js';

export class TrustRemoveCommand extends AimCommand {
  static override paths = [['trust', 'remove']];
  static override usage = Command.Usage({
    category: 'Signing',
    description: 'stop trusting a key for a repository (its `require:` rule stays as it is)',
    examples: [['Stop trusting bob', '$0 trust remove team bob']],
  });

  repo = Option.String({ name: 'REPO' });
  name = Option.String({ name: 'NAME' });

  async run(): Promise<void> {
    const { config } = await this.session();
    const result = await removeTrustedKey(config, this.repo, this.name);
    this.report(result, () => `repository ${result.repo} no longer trusts ${result.name} (${result.filepath})`);
  }
}
