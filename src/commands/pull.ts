import { Command, Option } from 'clipanion';
import { parseReference } from '../core/format/reference.js';
import { SelectingCommand } from './subset-options.js';
import { pullUnderPolicy, replaceFilesOption, requireSignedOption, writeSignatureOption } from './signing-options.js';
import { concurrencyOption, describePull } from './transfer-options.js';
import { orBundle } from '../core/bundle/bundle-target.js';
import { pullBundleUnderPolicy } from './bundle-render.js';
import { isFolderPath } from './path-argument.js';

export class PullCommand extends SelectingCommand {
  static override paths = [['pull']];
  static override usage = Command.Usage({
    category: 'Models',
    description: 'download REPO/MODEL[:TAG|@DIGEST] into a folder (short form of `aim model pull`); a bundle pulls each member into DEST/<member>',
    examples: [
      ['Pull the latest version', '$0 pull team-vision/resnet50 ./models/resnet50'],
      ['Pull only the Q4_K_M quantization (and the non-GGUF files)', '$0 pull team-llm/qwen2.5-7b ./qwen --quant q4_k_m'],
      ['Pull the largest quantization that fits free memory', '$0 pull team-llm/qwen2.5-7b ./qwen --quant auto'],
      ['Pull without the ONNX folder', '$0 pull team-vision/resnet50 ./models/resnet50 --exclude onnx'],
      ['Pull every member of a bundle into ./kit/<model>', '$0 pull team-llm/rag-kit:v1 ./kit'],
      ['Pull an exact version by digest', '$0 pull team-vision/resnet50@blake3:<64 hex> ./models/resnet50'],
    ],
  });

  reference = Option.String({ name: 'REPO/MODEL[:TAG|@DIGEST]' });
  dest = Option.String({ name: 'DEST', validator: isFolderPath });

  concurrency = concurrencyOption();
  requireSigned = requireSignedOption();
  writeSignature = writeSignatureOption();
  force = replaceFilesOption();

  async run(): Promise<void> {
    const ref = parseReference(this.reference);
    const flags = { requireSigned: this.requireSigned, writeSignature: this.writeSignature, concurrency: this.concurrency, select: await this.selection(), force: this.force };
    const pullVersion = async () => {
      const result = await pullUnderPolicy(this, ref.repo, ref, this.dest, flags);
      this.report(result, () => describePull(result));
    };
    await orBundle((r) => this.repository(r.repo), ref, pullVersion, (found) => pullBundleUnderPolicy(this, found, ref.repo, this.dest, flags));
  }
}
