import { Command, Option } from 'clipanion';
import { checkModelName, checkTagName } from '../core/format/names.js';
import { parseReference } from '../core/format/reference.js';
import { tagVersion } from '../core/transfer/copy-tag.js';
import { UsageError } from '../lib/errors.js';
import { AimCommand } from './base.js';

export class TagCommand extends AimCommand {
  static override paths = [['tag']];
  static override usage = Command.Usage({
    category: 'Models',
    description: 'give a version another tag, moving no data',
    details: `
      NEW_TAG names the same model, or MODEL:TAG another model of the same repository. A tag that already names other
      content is refused unless --force (as a push refuses it); the same content again is "unchanged". \`latest\`
      does not move.
    `,
    examples: [
      ['Call v1.2 "stable"', '$0 tag team-vision/resnet50:v1.2 stable'],
      ['Tag an exact version', '$0 tag team-vision/resnet50@blake3:<64 hex> v1.2-final'],
      ['Move "stable" to v1.3', '$0 tag team-vision/resnet50:v1.3 stable --force'],
    ],
  });

  source = Option.String({ name: 'REPO/MODEL[:TAG|@DIGEST]' });
  newTag = Option.String({ name: 'NEW_TAG' });
  force = Option.Boolean('--force', false, { description: 'move NEW_TAG if it names other content' });

  async run(): Promise<void> {
    const ref = parseReference(this.source);
    // `aim tag team/m:v1 team/m:stable` (docker tag's habit, the repository repeated) or another repository's name.
    if (this.newTag.includes('/')) {
      const other = this.newTag.slice(0, this.newTag.indexOf('/'));
      throw new UsageError(`NEW_TAG ${this.newTag} names a repository: a tag stays in ${ref.repo}`, {
        hint: other === ref.repo ? `leave the repository out: aim tag ${this.source} ${this.newTag.slice(other.length + 1)}` : `copy the version there instead: aim copy ${this.source} ${this.newTag}`,
      });
    }
    const colon = this.newTag.indexOf(':');
    const target =
      colon >= 0
        ? { model: checkModelName(this.newTag.slice(0, colon)), tag: checkTagName(this.newTag.slice(colon + 1)) }
        : { model: ref.model, tag: checkTagName(this.newTag) };
    const result = await tagVersion(await this.repository(ref.repo), ref, target, this.force);
    this.report(result, () => `${result.repo}/${result.model}:${result.tag} ${result.outcome} -> ${result.digest}`);
  }
}
