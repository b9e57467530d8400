import { Command, Option } from 'clipanion';
import { generateKey } from '../../core/signing/keys.js';
import { UsageError } from '../../lib/errors.js';
import { AimCommand } from '../base.js';
import { isPath } from '../path-argument.js';

export class KeyGenerateCommand extends AimCommand {
  static override paths = [['key', 'generate']];
  static override usage = Command.Usage({
    category: 'Signing',
    description: 'make an EC P-256 key pair for signing versions: NAME.key (private, mode 0600) and NAME.pub',
    details: `
      Neither file is overwritten if it exists. Keep NAME.key secret; give NAME.pub to whoever pulls
      (\`aim trust add REPO NAME.pub --name NAME\`). The same files work with the model-signing tool's
      \`sign key\` / \`verify key\`.
    `,
    examples: [['Make alice.key and alice.pub', '$0 key generate alice']],
  });

  name = Option.String({ name: 'NAME', validator: isPath });

  async run(): Promise<void> {
    // NAME is a path prefix: `keys/` or `.` would write the hidden files `.key` and `.pub`.
    const last = this.name.split('/').at(-1)!;
    if (last === '' || last === '.' || last === '..') {
      throw new UsageError(`key name ${this.name} ends in a folder, not a name`, { hint: `add the name, e.g. aim key generate ${this.name.replace(/\/?$/, '/')}alice` });
    }
    const result = await generateKey(this.name);
    this.report(result, () => [`wrote ${result.privateKeyPath} (keep it secret) and ${result.publicKeyPath}`, `  key id  ${result.keyId}`].join('\n'));
  }
}
