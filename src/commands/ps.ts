import { Command } from 'clipanion';
import { listDeployments } from '../core/serve/deployment-status.js';
import { AimCommand } from './base.js';
import { table } from './render/format.js';

export class PsCommand extends AimCommand {
  static override paths = [['ps']];
  static override usage = Command.Usage({
    category: 'Serving',
    description: 'list running models with their live status',
    examples: [['List running models', '$0 ps'], ['As JSON', '$0 ps --json']],
  });

  async run(): Promise<void> {
    const deployments = await listDeployments(() => this.session().catch(() => undefined));
    this.report(deployments, () => deployments.length === 0 ? 'no models running (start one with `aim run`)' : table(
      ['MODEL', 'STATUS', 'ENGINE', 'ENDPOINT', 'UPTIME'],
      deployments.map((d) => [d.name, d.detail && d.status !== 'running' ? `${d.status} (${d.detail})` : d.status, d.engine, d.endpoint, uptime(d.startedAt)]),
    ));
  }
}

function uptime(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`;
}
