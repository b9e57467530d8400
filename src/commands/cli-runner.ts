import { Cli, type BaseContext, type CommandClass } from 'clipanion';
import { errorDocument, formatError } from './render/errors.js';
import type { AimCli } from './render/help.js';
import { escapeRawInJson, jsonText } from '../lib/terminal-text.js';
import { jsonLogLine, type LogFields } from '../lib/log.js';
import { logSettings } from '../settings/log.js';
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

/** `--log-format` as last given before a `--` (`--log-format json` or `--log-format=json`), else AIM_LOG_FORMAT. */
function logFormatOf(argv: string[]): string | undefined {
  const end = argv.indexOf('--');
  const args = end === -1 ? argv : argv.slice(0, end);
  let given: string | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--log-format') given = args[i + 1];
    else if (args[i]!.startsWith('--log-format=')) given = args[i]!.slice('--log-format='.length);
  }
  if (given !== undefined) return given; // the last one, as for every option
  try {
    return logSettings().format;
  } catch {
    return undefined; // a bad AIM_LOG is the command's to report, once it runs
  }
}

/**
 * A failure outside any command's own reporting (a command line that does not parse, Ctrl-C) on stderr: with JSON
 * log lines, one `command failed` event, since stderr then carries nothing else (as base.ts does); else `text`.
 */
export function writeFailure(stderr: { write(text: string): unknown }, argv: string[], fields: LogFields, text: string): void {
  if (logFormatOf(argv) !== 'json') {
    stderr.write(text);
    return;
  }
  const record = { time: new Date().toISOString(), level: 'error' as const, event: 'command failed', fields };
  stderr.write(`${escapeRawInJson(jsonLogLine(record))}\n`);
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
    const required = definition.options.filter((option) => option.required).map((option) => option.definition);
    const positionals = definition.usage.slice(first.length).replace(/<([^>]+)>/g, '$1');
    const description = (definition.description ?? '').trim();
    return paths.map((path) => ({ path, usage: `aim ${path.join(' ')}${positionals}`, options, required, description }));
  });
}

/** `aim model --help`: the usage line of each command of the group, as `git remote -h` lists its subcommands. */
function groupHelp(cli: AimCli, classes: CommandClass[], argv: string[]): string | undefined {
  const words = typedWords(argv, GLOBAL_OPTIONS_WITH_VALUE);
  if (words.length !== 1 || !argv.some((arg) => arg === '-h' || arg === '--help')) return undefined;
  const group = commandShapes(cli, classes).filter(({ path }) => path.length === 2 && path[0] === words[0]);
  if (group.length === 0) return undefined;
  const width = Math.max(...group.map(({ usage }) => usage.length));
  const lines = group.map(({ usage, description }) => `  ${usage.padEnd(width)}   ${description}\n`);
  return `${lines.join('')}\nrun \`aim ${words[0]} COMMAND --help\` for its options and examples\n`;
}

export async function runCli(cli: AimCli, classes: CommandClass[], argv: string[], context: BaseContext): Promise<number> {
  const help = groupHelp(cli, classes, argv);
  if (help) {
    context.stdout.write(help);
    return 0;
  }
  let command;
  try {
    command = cli.process(argv, context);
  } catch (thrown) {
    const error = describeUsageFailure(thrown, typedWords(argv, GLOBAL_OPTIONS_WITH_VALUE), commandShapes(cli, classes), argv);
    writeFailure(context.stderr, argv, errorDocument(error).error, formatError(error, 0).text);
    if (jsonRequested(argv)) context.stdout.write(`${jsonText(errorDocument(error))}\n`);
    return error.exitCode;
  }
  return cli.run(command, context);
}
