import { Command, Option } from 'clipanion';
import { removeBundle } from '../core/bundle/install-bundle.js';
import { NotFoundError } from '../lib/errors.js';
import { removeInstalled } from '../core/install/remove.js';
import { aimHome } from '../settings/home.js';
import { formatBytes } from './render/format.js';
import { AimCommand } from './base.js';

export class RmCommand extends AimCommand {
  static override paths = [['rm']];
  static override usage = Command.Usage({
    category: 'Models',
    description: 'remove an installed model from AIM_HOME and free its disk space',
    details: `
      NAME is MODEL, MODEL:TAG, REPO/MODEL (every installed tag) or REPO/MODEL:TAG. A version a deployment
      serves from is refused, naming the deployment: \`aim stop\` it first. --force removes the files anyway and
      stops nothing (the running server keeps its mapped file until it exits). The repository is not touched.
    `,
    examples: [
      ['Remove an installed model', '$0 rm qwen2.5-7b'],
      ['Remove one installed tag', '$0 rm team-llm/qwen2.5-7b:v1'],
    ],
  });

  target = Option.String({ name: 'NAME[:TAG]' });
  force = Option.Boolean('--force', false, { description: 'remove even while a deployment serves from it (stops nothing)' });

  async run(): Promise<void> {
    const removeBundleNamed = async () => (await removeBundle(aimHome(), this.target)).flatMap((b) => b.released.map((r) => ({ reference: `${b.reference}: ${r.folder}`, ...r, stillRunning: [] as string[] })));
    const removed = await removeInstalled(aimHome(), this.target, { force: this.force }).catch((error: unknown) => {
      if (error instanceof NotFoundError) return removeBundleNamed(); // NAME may name an installed bundle
      throw error;
    });
    this.report({ removed }, () =>
      removed
        .map((r) => {
          const what = r.removed ? `removed ${r.reference} (${formatBytes(r.freedBytes)} freed)` : `removed ${r.reference}; its files stay, ${r.keptFor}`;
          const running = r.stillRunning.length ? `\n  deployment ${r.stillRunning.join(', ')} still runs (--force stops nothing): aim stop ${r.stillRunning[0]}` : '';
          return what + running;
        })
        .join('\n'),
    );
  }
}
