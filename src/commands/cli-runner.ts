import { Cli, type BaseContext, type CommandClass } from 'clipanion';
import { errorDocument, formatError } from './render/errors.js';
import type { AimCli } from './render/help.js';
import { jsonText } from './render/terminal.js';
import { describeUsageFailure, typedWords, type CommandShape } from './render/usage-errors.js';

// Runs one command line. clipanion parses it; what it cannot parse becomes aim's own usage error (one line on stderr,
// the likely command, exit 2, and the JSON error document under --json) instead of clipanion's dump on stdout.

/** Global options that take a value, given before the command's words: `aim -c team.yaml model push ...`. */
export const GLOBAL_OPTIONS_WITH_VALUE: ReadonlySet<string> = new Set(['-c', '--config', '--log-format']);

/** Whether the command line asks for JSON output (before a `--` that ends the options). */
export function jsonRequested(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}

/** Each registered command under each of its paths, with its usage line and option names. */
export function commandShapes(cli: Cli, classes: CommandClass[]): CommandShape[] {
  const definitions = cli.definitions();
  return classes.flatMap((commandClass) => {
    const paths = commandClass.paths ?? [];
    const first = `aim ${(paths[0] ?? []).join(' ')}`;
    const definition = definitions.find((candidate) => candidate.path === first);
    if (!definition) return [];
    const options = definition.options.flatMap((option) => option.definition.split(' ')[0]!.split(','));
    const positionals = definition.usage.slice(first.length).replace(/<([^>]+)>/g, '$1');
    return paths.map((path) => ({ path, usage: `aim ${path.join(' ')}${positionals}`, options }));
  });
}

export async function runCli(cli: AimCli, classes: CommandClass[], argv: string[], context: BaseContext): Promise<number> {
  let command;
  try {
    command = cli.process(argv, context);
  } catch (thrown) {
    const error = describeUsageFailure(thrown, typedWords(argv, GLOBAL_OPTIONS_WITH_VALUE), commandShapes(cli, classes));
    context.stderr.write(formatError(error, 0).text);
    if (jsonRequested(argv)) context.stdout.write(`${jsonText(errorDocument(error))}\n`);
    return error.exitCode;
  }
  return cli.run(command, context);
}
