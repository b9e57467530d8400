import { Command, Option } from 'clipanion';
import { UsageError } from '../lib/errors.js';
import { stopDeployments } from '../core/serve/deployment-status.js';
import { AimCommand } from './base.js';
import { formatWarning } from './render/errors.js';

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
    const { stopped, gone, problems } = await stopDeployments(() => this.session().catch(() => undefined), this.all ? [] : this.names);
    if (stopped.length + gone.length > 0 || problems.length === 0) {
      this.report({ stopped, gone }, () => [
        ...stopped.map((n) => `✨ Model stopped (${n})`),
        ...gone.map((n) => `${n} was no longer running; its record is removed`),
      ].join('\n') || 'nothing was running');
    }
    // The others were stopped; each record that could not be read or stopped is named, the first as the error.
    for (const problem of problems.slice(1)) this.context.stderr.write(formatWarning(problem.message));
    if (problems[0]) throw problems[0];
  }
}
