import { Command, Option } from 'clipanion';
import { UsageError } from '../lib/errors.js';
import { stopDeployments } from '../core/serve/deployment-status.js';
import { AimCommand } from './base.js';

export class StopCommand extends AimCommand {
  static override paths = [['stop']];
  static override usage = Command.Usage({
    category: 'Serving',
    description: 'stop a running model and wait until it is gone',
    examples: [['Stop one', '$0 stop qwen2.5-7b-instruct'], ['Stop everything', '$0 stop --all']],
  });

  names = Option.Rest({ name: 'NAME' });
  all = Option.Boolean('--all', false, { description: 'stop every running model' });

  async run(): Promise<void> {
    if (this.all === (this.names.length > 0)) {
      throw new UsageError(this.all ? 'give names or --all, not both' : 'name a model to stop, or pass --all', { hint: 'see running models with `aim ps`' });
    }
    const stopped = await stopDeployments(() => this.session().catch(() => undefined), this.all ? [] : this.names);
    this.report({ stopped }, () => (stopped.length === 0 ? 'nothing was running' : stopped.map((n) => `✨ ${n} stopped`).join('\n')));
  }
}
