import { Builtins, Cli } from 'clipanion';
import { InfoCommand } from './commands/info.js';
import { InspectCommand } from './commands/inspect.js';
import { ModelDeleteVersionCommand } from './commands/model/delete-version.js';
import { ModelDeleteCommand } from './commands/model/delete.js';
import { ModelListCommand } from './commands/model/list.js';
import { ModelPullCommand } from './commands/model/pull.js';
import { ModelPushCommand } from './commands/model/push.js';
import { ModelVersionsCommand } from './commands/model/versions.js';
import { PullCommand } from './commands/pull.js';
import { PushCommand } from './commands/push.js';
import { RepoCreateCommand } from './commands/repo/create.js';
import { RepoDeleteCommand } from './commands/repo/delete.js';
import { RepoListCommand } from './commands/repo/list.js';
import { VerifyCommand } from './commands/verify.js';
import { RunCommand } from './commands/run.js';
import { PsCommand } from './commands/ps.js';
import { StopCommand } from './commands/stop.js';
import { aimVersion } from './core/version.js';

// The command list is explicit (no directory scanning) so start-up loads only what is named here; heavy modules
// (the AWS SDK, node-llama-cpp) load inside the commands that need them.
const commands = [
  InfoCommand,
  RepoCreateCommand,
  RepoListCommand,
  RepoDeleteCommand,
  ModelPushCommand,
  ModelPullCommand,
  ModelListCommand,
  ModelVersionsCommand,
  ModelDeleteVersionCommand,
  ModelDeleteCommand,
  PushCommand,
  PullCommand,
  InspectCommand,
  VerifyCommand,
  RunCommand,
  PsCommand,
  StopCommand,
];

export function buildCli(binaryName = 'aim'): Cli {
  const cli = new Cli({ binaryLabel: 'aim — AI model manager', binaryName, binaryVersion: aimVersion(), enableCapture: false });
  for (const command of commands) cli.register(command);
  cli.register(Builtins.HelpCommand);
  cli.register(Builtins.VersionCommand);
  return cli;
}

// Ctrl-C: every write is atomic and pushes and pulls resume, so stopping at once loses nothing but time.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`\naim: interrupted; nothing half-written is visible, run the same command again to resume\n`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  });
}

const binaryName = process.argv[1]?.endsWith('aim_cli') ? 'aim_cli' : 'aim';
const exitCode = await buildCli(binaryName).run(process.argv.slice(2));
// The only process exit. Wait for stdout to drain so piped JSON is never cut short.
process.exitCode = exitCode;
