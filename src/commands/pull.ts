import { Command, Option } from 'clipanion';
import { pull } from '../core/transfer/pull.js';
import { parseReference } from '../core/format/reference.js';
import { AimCommand } from './base.js';
import { concurrencyOption, describePull } from './transfer-options.js';

export class PullCommand extends AimCommand {
  static override paths = [['pull']];
  static override usage = Command.Usage({
    category: 'Models',
    description: 'download REPO/MODEL[:TAG|@DIGEST] into a folder (short form of `aim model pull`)',
    examples: [
      ['Pull the latest version', '$0 pull team-vision/resnet50 ./models/resnet50'],
      ['Pull an exact version by digest', '$0 pull team-vision/resnet50@blake3:<64 hex> ./models/resnet50'],
    ],
  });

  reference = Option.String({ name: 'REPO/MODEL[:TAG|@DIGEST]' });
  dest = Option.String({ name: 'DEST' });

  concurrency = concurrencyOption();

  async run(): Promise<void> {
    const ref = parseReference(this.reference);
    const result = await pull(await this.repository(ref.repo), ref, this.dest, { progress: this.progress(), concurrency: this.concurrency });
    this.report(result, () => describePull(result));
  }
}
