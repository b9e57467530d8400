import { Command, Option } from 'clipanion';
import { rebuildIndex } from '../../core/store/repo-index.js';
import { AimCommand } from '../base.js';

export class RepoReindexCommand extends AimCommand {
  static override paths = [['repo', 'reindex']];
  static override usage = Command.Usage({
    category: 'Repositories',
    description: "rebuild a repository's catalog (index.json and catalog/) from its tags and manifests",
    details: `
      Pushes and deletes keep the catalog up to date; this rebuilds it from scratch, after index.json or an entry
      was deleted or damaged, or for a repository last pushed to by an older aim. It reads every tag and each
      model's newest manifest, and writes only the catalog: safe to run at any time, and again if interrupted.
    `,
    examples: [['Rebuild the catalog', '$0 repo reindex team-vision']],
  });

  repo = Option.String({ name: 'REPO' });

  async run(): Promise<void> {
    const result = await rebuildIndex(await this.repository(this.repo));
    this.warnAbout(result.problems);
    this.report(result, () => {
      const removed = result.removed.length > 0 ? `; removed the entries of ${result.removed.join(', ')} (no tags left)` : '';
      return `${result.repo}: index.json rebuilt with ${result.models} model${result.models === 1 ? '' : 's'}${removed}`;
    });
  }
}
