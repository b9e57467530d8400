import { Command } from 'clipanion';
import { listDeployments } from '../core/serve/deployment-status.js';
import { AimCommand } from './base.js';
import { formatWarning } from './render/errors.js';
import { formatUptime, table } from './render/format.js';

export class PsCommand extends AimCommand {
  static override paths = [['ps']];
  static override usage = Command.Usage({
    category: 'Serving',
    description: 'list running models with their live status',
    examples: [['List running models', '$0 ps'], ['As JSON', '$0 ps --json']],
  });

  async run(): Promise<void> {
    const { deployments, problems } = await listDeployments(() => this.session().catch(() => undefined));
    // A damaged record is named on stderr; it does not keep the others from being listed.
    for (const problem of problems) this.context.stderr.write(formatWarning(problem.message));
    this.report(deployments, () => deployments.length === 0 ? 'no models running (start one with `aim run`)' : table(
      ['MODEL', 'STATUS', 'ENGINE', 'ENDPOINT', 'UPTIME'],
      deployments.map((d) => [d.name, d.detail && d.status !== 'running' ? `${d.status} (${d.detail})` : d.status, d.engine, d.endpoint || '-', formatUptime(d.startedAt)]),
    ));
  }
}
