import { Command, Option } from 'clipanion';
import { addTrustedKey } from '../../core/config/trust-edit.js';
import { AimCommand } from '../base.js';
import { isPath } from '../path-argument.js';

export class TrustAddCommand extends AimCommand {
  static override paths = [['trust', 'add']];
  static override usage = Command.Usage({
    category: 'Signing',
    description: "trust a signer's public key for a repository; pulls and runs then refuse versions no trusted key signed",
    details: `
      The key (an EC P-256 public key) is copied into model_repos.yaml under the repository's \`trust:\` section,
      which also gets \`require: signed\` unless it already says otherwise. The policy lives in your file, never
      in the repository: whoever can write there cannot change what you trust. Adding the same key under the same
      name again changes nothing (exit 0); the name on another key, or the key under another name, is refused.
    `,
    examples: [['Trust alice for team', '$0 trust add team alice.pub --name alice']],
  });

  repo = Option.String({ name: 'REPO' });
  file = Option.String({ name: 'FILE.pub', validator: isPath });
  name = Option.String('--name', { required: true, description: 'what to call the signer in messages' });

  async run(): Promise<void> {
    const { config } = await this.session();
    const result = await addTrustedKey(config, this.repo, this.file, this.name);
    const how = result.unchanged ? 'already trusts' : 'now trusts';
    this.report(result, () => `repository ${result.repo} ${how} ${result.name} (key id ${result.keyId}) in ${result.filepath}`);
  }
}
