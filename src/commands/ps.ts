import { Command } from 'clipanion';
import { listDeployments } from '../core/serve/deployment-status.js';
import { withUsage } from '../core/serve/deployment-usage.js';
import { AimCommand } from './base.js';
import { formatWarning } from './render/errors.js';
import { formatBytes, formatUptime, table } from './render/format.js';

export class PsCommand extends AimCommand {
  static override paths = [['ps']];
  static override usage = Command.Usage({
    category: 'Serving',
    description: 'list running models with their live status, memory, CPU use and uptime',
    details: `
      DEVICE is where the embedded engine runs the model: cpu, or the GPU backend (cuda, vulkan, metal) with the
      layers offloaded to it (\`--json\`: device, and gpu.layers); - for an engine that does not say (Kamiwaza).
      MEM is the engine process's resident memory and CPU its CPU time over its life (100% = one core busy), for
      engines running on this machine; a remote engine (Kamiwaza) shows -.
    `,
    examples: [['List running models', '$0 ps'], ['As JSON', '$0 ps --json']],
  });

  async run(): Promise<void> {
    const { deployments, problems } = await listDeployments(() => this.session().catch(() => undefined));
    // A damaged record is named on stderr (and in --json); it does not keep the others from being listed.
    for (const problem of problems) this.context.stderr.write(formatWarning(problem.message));
    const rows = withUsage(deployments).map((d) => ({ ...d, device: deviceOf(d) }));
    this.report({ deployments: rows, problems: problems.map((p) => ({ message: p.message })) }, () => rows.length === 0 ? 'no models running (start one with `aim run`)' : table(
      ['MODEL', 'STATUS', 'ENGINE', 'ENDPOINT', 'DEVICE', 'MEM', 'CPU', 'UPTIME'],
      rows.map((d) => [
        d.name, d.detail && d.status !== 'running' ? `${d.status} (${d.detail})` : d.status, d.engine, d.endpoint || '-',
        d.device === null ? '-' : d.device === 'cpu' ? 'cpu' : `${d.device} (${d.gpu!.layers} layers)`,
        d.usage ? formatBytes(d.usage.rssBytes) : '-', d.usage ? `${d.usage.cpuPercent}%` : '-', formatUptime(d.startedAt),
      ]),
    ));
  }
}

/** "cpu", or the GPU backend the embedded engine offloaded layers to; null when the engine does not say. */
function deviceOf(deployment: { gpu?: { backend: string | false; layers: number } }): string | null {
  if (!deployment.gpu) return null;
  return deployment.gpu.backend && deployment.gpu.layers > 0 ? deployment.gpu.backend : 'cpu';
}
