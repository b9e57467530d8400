import { Command, Option } from 'clipanion';
import { checkModelName, checkTagName } from '../../core/format/names.js';
import { SelectingCommand } from '../subset-options.js';
import { pullUnderPolicy, replaceFilesOption, requireSignedOption, writeSignatureOption } from '../signing-options.js';
import { concurrencyOption, describePull } from '../transfer-options.js';
import { isFolderPath } from '../path-argument.js';

export class ModelPullCommand extends SelectingCommand {
  static override paths = [['model', 'pull']];
  static override usage = Command.Usage({
    category: 'Models',
    description: 'download a model version into a folder',
    details: `
      Every chunk is verified before it is written and every file before it appears under its name. An
      interrupted pull resumes where it stopped; pulling a new version over an older one fetches only the
      chunks that changed. aim keeps its bookkeeping in DEST/.aim. A file in DEST at one of the version's paths
      that aim did not put there (or that changed since) stops the pull before anything is fetched (exit 5);
      --force replaces it.
    `,
    examples: [['Pull v1.0 into ./models/resnet50', '$0 model pull team-vision resnet50-finetuned ./models/resnet50 --tag v1.0']],
  });

  repo = Option.String({ name: 'REPO' });
  model = Option.String({ name: 'MODEL' });
  dest = Option.String({ name: 'DEST', validator: isFolderPath });
  tag = Option.String('--tag', 'latest', { description: 'version tag to pull (default: latest)' });

  concurrency = concurrencyOption();
  requireSigned = requireSignedOption();
  writeSignature = writeSignatureOption();
  force = replaceFilesOption();

  async run(): Promise<void> {
    const result = await pullUnderPolicy(this, this.repo, { model: checkModelName(this.model), tag: checkTagName(this.tag) }, this.dest, { requireSigned: this.requireSigned, writeSignature: this.writeSignature, concurrency: this.concurrency, select: await this.selection(), force: this.force });
    this.report(result, () => describePull(result));
  }
}
