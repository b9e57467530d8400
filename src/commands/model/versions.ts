import { Command, Option } from 'clipanion';
import { shortDigest } from '../../core/format/digest.js';
import { checkModelName } from '../../core/format/names.js';
import { listVersions } from '../../core/store/model-listing.js';
import { AimCommand } from '../base.js';
import { formatAge, formatBytes, table } from '../render/format.js';

export class ModelVersionsCommand extends AimCommand {
  static override paths = [['model', 'versions']];
  static override usage = Command.Usage({
    category: 'Models',
    description: 'list the versions (tags) of a model, oldest first',
    examples: [['List versions', '$0 model versions team-vision resnet50-finetuned']],
  });

  repo = Option.String({ name: 'REPO' });
  model = Option.String({ name: 'MODEL' });

  async run(): Promise<void> {
    const listing = await listVersions(await this.repository(this.repo), checkModelName(this.model));
    this.warnAbout(listing.problems);
    this.report(listing, () =>
      table(
        ['TAG', 'DIGEST', 'FILES', 'SIZE', 'PUSHED'],
        listing.versions.map((t) => [t.tag, shortDigest(t.digest), String(t.files), formatBytes(t.size), formatAge(t.pushedAt)]),
      ),
    );
  }
}
