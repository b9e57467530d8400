import { Command, Option } from 'clipanion';
import { parseReference } from '../core/format/reference.js';
import { keySigner } from '../core/signing/bundle.js';
import { readPrivateKey } from '../core/signing/keys.js';
import { signVersion } from '../core/signing/sign.js';
import { AimCommand } from './base.js';
import { isPath } from './path-argument.js';

export class SignCommand extends AimCommand {
  static override paths = [['sign']];
  static override usage = Command.Usage({
    category: 'Signing',
    description: 'sign a version with a private key (OpenSSF model-signing format), offline',
    details: `
      Stores a model-signing bundle (a Sigstore bundle holding a DSSE-signed in-toto statement that lists every
      file's BLAKE3) beside the version's manifest; each key signs a version at most once, several keys may.
      Nothing is read but the manifest. --export-to DIR also writes DIR/model.sig for a folder holding the
      version's files (e.g. one \`aim pull\` filled).
    `,
    examples: [
      ['Sign the latest version', '$0 sign team/llama:latest --key alice.key'],
      ['Sign and write the signature beside a pulled copy', '$0 sign team/llama:v1 --key alice.key --export-to ./llama'],
    ],
  });

  reference = Option.String({ name: 'REPO/MODEL[:TAG|@DIGEST]' });
  key = Option.String('--key', { required: true, validator: isPath, description: 'private key (NAME.key from `aim key generate NAME`)' });
  exportTo = Option.String('--export-to', { validator: isPath, description: 'also write the signature as DIR/model.sig' });

  async run(): Promise<void> {
    const ref = parseReference(this.reference);
    const signer = keySigner(await readPrivateKey(this.key));
    const result = await signVersion(await this.repository(ref.repo), ref, signer, this.exportTo);
    this.report(result, () => [
      `signed ${result.repo}/${result.model}${result.tag ? `:${result.tag}` : ''}`,
      `  digest  ${result.digest}`,
      `  key id  ${result.keyId}`,
      `  stored  ${result.stored}`,
      ...(result.exported ? [`  wrote   ${result.exported}`] : []),
    ].join('\n'));
  }
}
