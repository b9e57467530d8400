import { Command, Option } from 'clipanion';
import { trustedKeys } from '../core/config/trust-policy.js';
import { importInputFor, importModel, type ImportResult } from '../core/oci/import.js';
import { UsageError } from '../lib/errors.js';
import { aimHome } from '../settings/home.js';
import { AimCommand } from './base.js';
import { formatWarning } from './render/errors.js';
import { parseTaggedReference } from './tagged-reference.js';
import { describePush } from './transfer-options.js';
import { isPath } from './path-argument.js';

export class ImportCommand extends AimCommand {
  static override paths = [['import']];
  static override usage = Command.Usage({
    category: 'Models',
    description: 'push an OCI image layout (tar, folder or -) holding a ModelPack, KitOps or Docker Model Runner model as REPO/MODEL:TAG',
    details: `
      Every blob is checked against its sha256 before anything is pushed; the files are chunked and deduplicated as \`aim push\` does. A tar is unpacked into a private folder under AIM_HOME/tmp first (a tar may hold the layers before the manifest), removed at the end. Layers compressed with zstd are refused.

      Signatures the layout carries (a model.sig layer, OCI referrers of the model, as \`aim export\` writes them) are
      stored beside the imported version when they sign exactly its files (and verify, for a key you trust); any
      other is dropped with a warning, and the model is still imported.
    `,
    examples: [
      ['Import a tar written by aim export', '$0 import qwen.tar team/qwen:q6'],
      ['Import a layout folder written by skopeo', 'skopeo copy docker://registry.example.com/models/qwen:q6 oci:qwen-oci && $0 import qwen-oci team/qwen:q6'],
      ['Import from standard input', 'ssh builder aim export build/qwen:q6 -o - | $0 import - team/qwen:q6'],
    ],
  });

  source = Option.String({ name: 'FILE.tar|DIR|-', validator: isPath });
  reference = Option.String({ name: 'REPO/MODEL[:TAG]' });
  force = Option.Boolean('--force', false, { description: 'move an existing tag to different content' });

  async run(): Promise<void> {
    const ref = parseTaggedReference(this.reference, 'import', 'aim import model.tar repo/model:v1.0');
    // A tar is not typed: on a terminal, `-` would wait for ever for bytes nobody sends.
    if (this.source === '-' && (this.context.stdin as NodeJS.ReadStream).isTTY) {
      throw new UsageError('- reads the tar from standard input, which is a terminal here', { hint: 'pipe it in (`aim export ... -o - | aim import - REPO/MODEL:TAG`, `< model.tar`), or name the file' });
    }
    const repo = await this.repository(ref.repo);
    const input = await importInputFor(this.source, this.context.stdin);
    const keys = await trustedKeys((await this.session()).config, ref.repo);
    const result = await importModel(repo, input, { model: ref.model, tag: ref.tag, force: this.force, home: aimHome(), progress: this.progress(), trustedKeys: keys });
    for (const warning of result.signatures.warnings) this.context.stderr.write(formatWarning(warning));
    this.report(result, () => describeImport(result));
  }
}

function describeImport(result: ImportResult): string {
  const same = result.sameVersion === undefined ? [] : [`  same version ${result.sameVersion ? 'yes: the digest aim exported' : 'no: files, modes or annotations differ from the export'}`];
  const signed = result.signatures.stored.length === 0 ? [] : [`  signatures   ${result.signatures.stored.length} kept (keys ${result.signatures.stored.map((id) => id.slice(0, 16)).join(', ')})`];
  return [`imported ${result.flavour} artifact ${result.ociDigest} (${result.layers} layers) from ${result.source}`, ...same, ...signed, describePush(result)].join('\n');
}
