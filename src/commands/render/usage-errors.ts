import { closest } from '../../lib/closest.js';
import { UsageError } from '../../lib/errors.js';

// What clipanion says of a command line it cannot parse is a dump of every usage line that came close, on stdout.
// A person wants one line saying what was wrong, the command they probably meant, and where to read more; a script
// wants exit 2 and nothing on stdout. This turns clipanion's errors into aim's UsageError.

/** A registered command as the suggestions need it: its words, usage line and option names. */
export interface CommandShape {
  path: string[];
  /** `aim push REPO/MODEL[:TAG] DIR`. */
  usage: string;
  options: string[];
  /** Options the command cannot run without, as its help writes them: `--key KEY`, `-o,--output OUTPUT`. */
  required?: string[];
  description: string;
}

interface ClipanionFailure {
  name?: string;
  message?: string;
  clipanion?: { type?: string };
  candidates?: Array<{ usage: string; reason: string | null }>;
}

/** The words naming the command: what follows the global options given before them, up to the first option. */
export function typedWords(argv: string[], optionsWithValue: ReadonlySet<string>): string[] {
  let i = 0;
  while (i < argv.length && argv[i]!.startsWith('-')) i += optionsWithValue.has(argv[i]!) ? 2 : 1;
  const words: string[] = [];
  for (; i < argv.length && !argv[i]!.startsWith('-'); i++) words.push(argv[i]!);
  return words;
}

/** The command whose words start `words`, the longest one (`model push` before `model`). */
function matchedCommand(words: string[], commands: CommandShape[]): CommandShape | undefined {
  return commands
    .filter(({ path }) => path.length > 0 && path.length <= words.length && path.every((word, i) => words[i] === word))
    .sort((a, b) => b.path.length - a.path.length)[0];
}

/** clipanion's failure as one UsageError: what was wrong, and a hint with the likely fix. */
export function describeUsageFailure(thrown: unknown, words: string[], commands: CommandShape[], argv: string[] = words): UsageError {
  const failure = (thrown ?? {}) as ClipanionFailure;
  const command = matchedCommand(words, commands);
  if (!command) return unknownCommand(words, commands, failure);
  const name = `aim ${command.path.join(' ')}`;
  const help = `run \`${name} --help\``;
  if (failure.name === 'UsageError') return new UsageError(`${name}: ${firstLine(failure.message)}`, { hint: help });
  const reason = failure.candidates?.find((candidate) => candidate.usage.startsWith(`${name} `) || candidate.usage === name)?.reason ?? null;
  const option = /^Unsupported option name \("(.*)"\)/.exec(reason ?? '')?.[1];
  if (option !== undefined) {
    const flag = option.replace(/=.*$/, '');
    // `aim model push ... --tag v2` carried over to the short form, whose reference holds the tag.
    if ((flag === '--tag' || flag === '-t') && command.usage.includes('/MODEL[:TAG')) {
      return new UsageError(`unknown option ${option} for \`${name}\`: the tag goes in the reference`, { hint: `write REPO/MODEL:TAG, e.g. ${name} team/resnet50:v2 ...; ${help}` });
    }
    const near = nearOption(flag, command.options);
    return new UsageError(`unknown option ${option} for \`${name}\``, { hint: `${near ? `did you mean \`${near}\`? ` : ''}${help}` });
  }
  // clipanion gives no reason when a required option is absent: its candidate only fails to match.
  const absent = (command.required ?? []).find((definition) => !definition.split(' ')[0]!.split(',').some((flag) => givenFlag(argv, flag)));
  if (absent !== undefined && !reason) {
    const [flags, value] = absent.split(' ');
    const flag = flags!.split(',').at(-1)!;
    return new UsageError(`\`${name}\` needs ${flag}${value ? ` ${value}` : ''}`, { hint: help });
  }
  if (reason?.startsWith('Not enough positional arguments')) {
    const habit = MISSING_ARGUMENT_HABITS.get(command.path.join(' '));
    return new UsageError(`\`${name}\` is missing an argument: ${command.usage}`, { hint: habit ? `${habit}; ${help}` : help });
  }
  const extra = /^Extraneous positional argument \("(.*)"\)/.exec(reason ?? '')?.[1];
  if (extra !== undefined) return new UsageError(`unexpected argument "${extra}" for \`${name}\`: ${command.usage}`, { hint: help });
  return new UsageError(`\`${name}\` cannot run with these arguments${reason ? ` (${firstLine(reason).replace(/\.$/, '')})` : ''}: ${command.usage}`, { hint: help });
}

function unknownCommand(words: string[], commands: CommandShape[], failure: ClipanionFailure): UsageError {
  const helpAll = 'run `aim --help` to see every command';
  if (words.length === 0) {
    const option = failure.candidates?.map((candidate) => /^Unsupported option name \("(.*)"\)/.exec(candidate.reason ?? '')?.[1]).find(Boolean);
    const known = option === undefined || commands.some(({ options }) => options.includes(option));
    return new UsageError(known ? `no command given${option ? ` for ${option}` : ''}` : `unknown option ${option}`, { hint: helpAll });
  }
  const subcommands = commands.filter(({ path }) => path.length > 1 && path[0] === words[0]).map(({ path }) => path[1]!);
  if (words.length === 1 && subcommands.length > 0) {
    return new UsageError(`\`aim ${words[0]}\` needs a subcommand: ${subcommands.join(', ')}`, { hint: `run \`aim ${words[0]} --help\`` });
  }
  const suggestion = suggestCommand(words, commands);
  const typed = commands.some(({ path }) => path.length > 1 && path[0] === words[0]) ? words.slice(0, 2) : words.slice(0, 1);
  return new UsageError(`unknown command \`${typed.join(' ')}\``, { hint: `${suggestion ? `did you mean \`aim ${suggestion}\`? ` : ''}${helpAll}` });
}

/**
 * What people type from habit in other tools (ollama, huggingface-cli, restic, git, docker), and aim's command for
 * it. Spelling alone would send `show` to `stop` and `cp` to `mcp`.
 */
const HABITS: ReadonlyMap<string, string> = new Map(Object.entries({
  show: 'inspect',
  cp: 'copy',
  remove: 'rm',
  uninstall: 'rm',
  delete: 'model delete',
  download: 'pull',
  clone: 'pull',
  restore: 'pull',
  upload: 'push',
  backup: 'push',
  serve: 'run',
  start: 'run',
  kill: 'stop',
  status: 'ps',
  version: '--version',
  tags: 'model versions',
  versions: 'model versions',
  snapshots: 'model versions',
  log: 'model versions',
  check: 'verify',
  prune: 'gc',
  init: 'repo create',
  find: 'search',
  models: 'list',
  images: 'list',
  'repo add': 'repo create',
  'repo init': 'repo create',
  'repo remove': 'repo delete',
  'repo rm': 'repo delete',
  'model rm': 'model delete',
  'model remove': 'model delete',
  'model tags': 'model versions',
  'model show': 'inspect',
  'model inspect': 'inspect',
  'trust rm': 'trust remove',
  'trust ls': 'trust list',
  'config show': 'config list',
  'key new': 'key generate',
  'key create': 'key generate',
}));

/** A missing argument that another tool's habit explains: `ollama pull MODEL` takes no folder. */
const MISSING_ARGUMENT_HABITS: ReadonlyMap<string, string> = new Map([
  ['pull', 'to fetch a model for `aim run` without naming a folder (as `ollama pull` does), use `aim install REPO/MODEL[:TAG]`'],
  ['model pull', 'to fetch a model for `aim run` without naming a folder, use `aim install REPO/MODEL[:TAG]`'],
]);

/** The command the words most likely meant: another tool's word for it, else the nearest in spelling. */
function suggestCommand(words: string[], commands: CommandShape[]): string | undefined {
  for (const length of [2, 1]) {
    const habit = words.length >= length ? HABITS.get(words.slice(0, length).join(' ')) : undefined;
    if (habit !== undefined) return habit;
  }
  for (const length of [2, 1]) {
    if (words.length < length) continue;
    const candidates = commands.filter(({ path }) => path.length === length).map(({ path }) => path.join(' '));
    const near = closest(words.slice(0, length).join(' '), candidates);
    if (near) return near;
  }
  return undefined;
}

/** Whether `flag` is on the command line, alone or as `--flag=value`. */
function givenFlag(argv: string[], flag: string): boolean {
  return argv.some((arg) => arg === flag || arg.startsWith(`${flag}=`));
}

/**
 * The option a mistyped one most likely meant. A one-letter flag is another tool's short form (`-t` for a tag, `-r`
 * for a repository): the long option starting with that letter, not `-c`, which is one letter away from every
 * short flag.
 */
function nearOption(option: string, options: string[]): string | undefined {
  const letter = /^-([a-zA-Z])$/.exec(option)?.[1];
  if (letter === undefined) return closest(option, options);
  const longs = options.filter((candidate) => candidate.startsWith(`--${letter.toLowerCase()}`));
  return longs.length === 1 ? longs[0] : undefined;
}

function firstLine(text: string | undefined): string {
  return (text ?? '').split('\n')[0]!.trim();
}
