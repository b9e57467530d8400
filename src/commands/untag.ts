import { Command, Option } from 'clipanion';
import { parseReference } from '../core/format/reference.js';
import { untagVersion } from '../core/transfer/copy-tag.js';
import { UsageError } from '../lib/errors.js';
import { orBundle } from '../core/bundle/bundle-target.js';
import { untagBundle } from '../core/bundle/untag-bundle.js';
import { AimCommand } from './base.js';

export class UntagCommand extends AimCommand {
  static override paths = [['untag']];
  static override usage = Command.Usage({
    category: 'Models',
    description: 'remove one tag; the data stays until `aim gc`',
    details: 'If `latest` named the same version, it moves to the newest remaining tag (or goes).',
    examples: [['Remove the tag "rc1"', '$0 untag team-vision/resnet50:rc1']],
  });

  reference = Option.String({ name: 'REPO/MODEL:TAG' });

  async run(): Promise<void> {
    const ref = parseReference(this.reference);
    if (ref.digest || ref.digestPrefix || !this.reference.includes(':')) {
      throw new UsageError(`untag needs a tag: ${this.reference}`, { hint: 'write REPO/MODEL:TAG, e.g. team-vision/resnet50:rc1' });
    }
    const repository = await this.repository(ref.repo);
    // REPO/NAME:TAG may name a bundle's tag.
    const result = await orBundle(async () => repository, ref, () => untagVersion(repository, ref.model, ref.tag!), () => untagBundle(repository, ref.model, ref.tag!));
    this.warnAbout(result.problems);
    this.report({ repo: ref.repo, model: ref.model, ...result }, () => `untagged ${ref.repo}/${ref.model}: ${result.deleted.join(', ')}`);
  }
}
