import { Command, Option } from 'clipanion';
import { findRepo } from '../../core/config/config.js';
import { signaturesRequired, trustedKeys, type PolicySource } from '../../core/config/trust-policy.js';
import { AimCommand } from '../base.js';
import { table } from '../render/format.js';

export class TrustListCommand extends AimCommand {
  static override paths = [['trust', 'list']];
  static override usage = Command.Usage({
    category: 'Signing',
    description: 'show each repository\'s trust policy: whether signatures are required, by which keys, and where each is written',
    details: `
      A repository's policy joins its own \`trust:\` in model_repos.yaml and the \`trust:\` block of the \`aim:\` settings
      (for every repository, or those it names): signatures are required when either asks, and every key of both
      is trusted. FROM says where each key is written: repository or settings.
    `,
    examples: [['Every repository', '$0 trust list'], ['One repository, as JSON', '$0 trust list team --json']],
  });

  repo = Option.String({ name: 'REPO', required: false });

  async run(): Promise<void> {
    const { config } = await this.session();
    const repos = config.repositories.filter((repo) => this.repo === undefined || repo.name === this.repo);
    if (this.repo !== undefined && repos.length === 0) findRepo(config, this.repo);
    const rows: Array<{ repo: string; require: string; keys: Array<{ name: string; keyId: string; from: PolicySource }> }> = [];
    for (const repo of repos) {
      const keys = await trustedKeys(config, repo.name);
      rows.push({ repo: repo.name, require: signaturesRequired(config, repo.name) ? 'signed' : 'none', keys: keys.map(({ name, keyId, from }) => ({ name, keyId, from })) });
    }
    this.report({ repositories: rows }, () =>
      table(['REPO', 'REQUIRE', 'KEY', 'FROM', 'KEY ID'], rows.flatMap((row) =>
        row.keys.length === 0 ? [[row.repo, row.require, '-', '', '']] : row.keys.map((key) => [row.repo, row.require, key.name, key.from, key.keyId]))),
    );
  }
}
