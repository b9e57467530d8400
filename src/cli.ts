import { Builtins, Cli, Command, type CommandClass } from 'clipanion';
import { GLOBAL_OPTIONS_WITH_VALUE, jsonRequested, runCli, writeFailure } from './commands/cli-runner.js';
import { AimCli, AimVersionCommand } from './commands/render/help.js';
import { aimVersion } from './core/version.js';
import { colorAllowed } from './settings/log.js';

// Commands by their first word, loaded on demand: `aim repo list` imports the four repo commands and nothing else,
// so start-up stays short and heavy modules (the AWS SDK, node-llama-cpp) load only in the commands that need
// them. Help, unknown words and bare `aim` load them all.
type CommandModule = Record<string, unknown>;
const modelCommands: Record<string, () => Promise<CommandModule>> = {
  push: () => import('./commands/model/push.js'),
  pull: () => import('./commands/model/pull.js'),
  list: () => import('./commands/model/list.js'),
  versions: () => import('./commands/model/versions.js'),
  'delete-version': () => import('./commands/model/delete-version.js'),
  delete: () => import('./commands/model/delete.js'),
};
const commandsByWord: Record<string, Array<() => Promise<CommandModule>>> = {
  info: [() => import('./commands/info.js')],
  config: [() => import('./commands/config/list.js'), () => import('./commands/config/get.js'), () => import('./commands/config/set.js'), () => import('./commands/config/unset.js')],
  repo: [() => import('./commands/repo/create.js'), () => import('./commands/repo/list.js'), () => import('./commands/repo/delete.js'), () => import('./commands/repo/upgrade.js'), () => import('./commands/repo/reindex.js'), () => import('./commands/repo/require.js')],
  model: Object.values(modelCommands),
  push: [() => import('./commands/push.js')],
  pull: [() => import('./commands/pull.js')],
  inspect: [() => import('./commands/inspect.js')],
  bundle: [() => import('./commands/bundle.js')],
  verify: [() => import('./commands/verify.js')],
  run: [() => import('./commands/run.js')],
  ps: [() => import('./commands/ps.js')],
  stop: [() => import('./commands/stop.js')],
  doctor: [() => import('./commands/doctor.js')],
  export: [() => import('./commands/export.js')],
  import: [() => import('./commands/import.js')],
  search: [() => import('./commands/search.js')],
  list: [() => import('./commands/list.js')],
  ls: [() => import('./commands/list.js')],
  install: [() => import('./commands/install.js')],
  installed: [() => import('./commands/installed.js')],
  update: [() => import('./commands/update.js')],
  rm: [() => import('./commands/rm.js')],
  exec: [() => import('./commands/exec.js')],
  mcp: [() => import('./commands/mcp.js')],
  gc: [() => import('./commands/gc.js')],
  tag: [() => import('./commands/tag.js')],
  untag: [() => import('./commands/untag.js')],
  copy: [() => import('./commands/copy.js')],
  completion: [() => import('./commands/completion.js')],
  key: [() => import('./commands/key/generate.js')],
  sign: [() => import('./commands/sign.js')],
  trust: [() => import('./commands/trust/add.js'), () => import('./commands/trust/list.js'), () => import('./commands/trust/remove.js')],
};

function isCommandClass(value: unknown): value is CommandClass {
  return typeof value === 'function' && value.prototype instanceof Command && Array.isArray((value as { paths?: unknown }).paths);
}

/** The command's words, past options given before them (`aim --config team.yaml model push ...`). */
function commandWords(argv: string[]): string[] {
  let i = 0;
  while (i < argv.length && argv[i]!.startsWith('-')) i += GLOBAL_OPTIONS_WITH_VALUE.has(argv[i]!) ? 2 : 1;
  return argv.slice(i);
}

async function commandsFor(argv: string[]): Promise<CommandClass[]> {
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) return [];
  const [word, second] = commandWords(argv);
  // `aim model push ...` needs only the push command (help for `aim model` lists them all).
  // Own keys only: a typed `constructor` or `__proto__` must find nothing, not Object's own members.
  const subcommand = word === 'model' && second && Object.hasOwn(modelCommands, second) ? modelCommands[second] : undefined;
  // Completion writes every command's words and options into its script.
  const everything = !word || word === 'completion' || !Object.hasOwn(commandsByWord, word);
  const loaders = subcommand ? [subcommand] : everything ? Object.values(commandsByWord).flat() : commandsByWord[word]!;
  const modules = await Promise.all(loaders.map((load) => load()));
  return modules.flatMap((module) => Object.values(module).filter(isCommandClass));
}

/** Colour only for a person at a terminal who has not asked for none (NO_COLOR): never in a pipe or a file. */
const colored = process.stdout.isTTY === true && colorAllowed();

export async function buildCli(argv: string[], binaryName = 'aim'): Promise<{ cli: AimCli; commands: CommandClass[] }> {
  const cli = new AimCli({ binaryLabel: 'aim — AI model manager', binaryName, binaryVersion: aimVersion(), enableCapture: false, enableColors: colored });
  const commands = await commandsFor(argv);
  for (const command of commands) cli.register(command);
  cli.register(Builtins.HelpCommand);
  cli.register(AimVersionCommand);
  return { cli, commands };
}

const argv = process.argv.slice(2);

// Ctrl-C and SIGTERM: every write is atomic and pushes and pulls resume, so stopping at once loses nothing but time.
// The process ends by the signal itself, re-raised with its default action, as git and most Unix tools do (a shell
// then sees 130 or 143 and a script stops too). Not process.exit: it waits for every libuv thread to return, and a
// thread can be stuck for good (an open() of a FIFO, a hung NFS read) or for seconds (an fsync of gigabytes). The
// 'exit' listeners still run first (e.g. the one that stops an engine `aim run` was starting).
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    const message = 'interrupted; nothing half-written is visible';
    const hint = 'run the same command again to resume';
    const exitCode = signal === 'SIGINT' ? 130 : 143;
    failOutsideCommand('interrupted', exitCode, message, hint, `\naim: ${message}, ${hint}\n`);
    try {
      process.emit('exit', exitCode);
    } finally {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    }
  });
}

/** A failure no command reported (a signal, a command cut short): its exit code, its line, and --json's one document. */
function failOutsideCommand(code: string, exitCode: number, message: string, hint: string, text: string): void {
  process.exitCode = exitCode;
  writeFailure(process.stderr, argv, { code, exitCode, message, hint }, text);
  // A script reading --json still gets its one document (a pipe takes it at once: writes to pipes are synchronous).
  if (jsonRequested(argv)) process.stdout.write(`${JSON.stringify({ error: { code, exitCode, message, hint } })}\n`);
}

// A command whose work is left waiting on a promise nothing will settle (a bug) would otherwise end the process here,
// exit code 0, its work cut short without a word.
let commandFinished = false;
process.once('beforeExit', () => {
  if (commandFinished) return;
  const message = 'the command stopped before it finished: nothing was left to wait for (a bug)';
  const hint = 'run again with -v, and report it with what you ran';
  failOutsideCommand('internal', 70, message, hint, `aim: internal error: ${message}\n  hint: ${hint}\n`);
});

// `aim inspect REF --json | head -1`: a reader that stops early is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

// A function, not top-level await: the bundle is one CommonJS script (scripts/bundle.mjs), which has none. A failure
// to build the CLI is a bug; left unhandled, it ends the process with its stack, as top-level await did.
async function main(): Promise<void> {
  const binaryName = process.argv[1]?.endsWith('aim_cli') ? 'aim_cli' : 'aim';
  const { cli, commands } = await buildCli(argv, binaryName);
  const exitCode = await runCli(cli, commands, argv, { ...Cli.defaultContext, colorDepth: colored ? Cli.defaultContext.colorDepth : 1 });
  // The only process exit. Wait for stdout to drain so piped JSON is never cut short.
  commandFinished = true;
  process.exitCode = exitCode;
}

void main();
