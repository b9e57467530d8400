import { Command, Option } from 'clipanion';
import { UsageError } from '../lib/errors.js';
import { AimCommand } from './base.js';

// The word lists are written into the script when it is printed, from the commands registered in this aim: nothing
// runs aim again at each <Tab>, so completing stays instant, and `source <(aim completion bash)` in ~/.bashrc picks
// up new commands at the next shell.

interface CompletedCommand {
  words: string[];
  options: string[];
}

export class CompletionCommand extends AimCommand {
  static override paths = [['completion']];
  static override usage = Command.Usage({
    description: 'print a shell completion script (bash or zsh) for commands, subcommands and options',
    examples: [
      ['Complete in this bash session', 'source <($0 completion bash)'],
      ['Complete in every bash session', "echo 'source <(aim completion bash)' >> ~/.bashrc"],
      ['Complete in zsh', 'source <($0 completion zsh)'],
    ],
  });

  shell = Option.String({ name: 'SHELL' });

  async run(): Promise<void> {
    const commands = this.completedCommands();
    const name = this.cli.binaryName;
    const script = this.shell === 'bash' ? bashScript(name, commands) : this.shell === 'zsh' ? zshScript(name, commands) : undefined;
    if (script === undefined) throw new UsageError(`no completion for shell ${JSON.stringify(this.shell)}`, { hint: 'use `aim completion bash` or `aim completion zsh`' });
    // --json promises one JSON document on stdout, whatever the command: the script is its `script` field.
    if (this.json) this.report({ shell: this.shell, script }, () => '');
    else this.context.stdout.write(script);
  }

  /** Each command's words (`model push`) and option names (`--tag`, `-q`, `--quiet`), as its help lists them. */
  private completedCommands(): CompletedCommand[] {
    const prefix = `${this.cli.binaryName} `;
    return this.cli
      .definitions()
      .filter((definition) => definition.path.startsWith(prefix))
      .map((definition) => ({
        words: definition.path.slice(prefix.length).split(' '),
        options: [...definition.options.flatMap((option) => option.definition.split(' ')[0]!.split(',')), '--help'],
      }));
  }
}

/** Word lists as shell words: names are [a-z-] only, so they need no quoting beyond the list's own quotes. */
function list(words: Iterable<string>): string {
  return [...new Set(words)].join(' ');
}

function firstWords(commands: CompletedCommand[]): string {
  return list(commands.map(({ words }) => words[0]!));
}

/** `model) echo "push pull list"`: the second words of each command group. */
function groupCases(commands: CompletedCommand[], indent: string): string {
  const groups = new Map<string, string[]>();
  for (const { words } of commands) if (words.length > 1) groups.set(words[0]!, [...(groups.get(words[0]!) ?? []), words[1]!]);
  return [...groups].map(([group, subcommands]) => `${indent}${group}) echo "${list(subcommands)}" ;;`).join('\n');
}

function optionCases(commands: CompletedCommand[], indent: string): string {
  return commands.map(({ words, options }) => `${indent}"${words.join(' ')}") echo "${list(options)}" ;;`).join('\n');
}

/** `_aim_subcommands GROUP` and `_aim_options "WORDS"`: the same shell functions serve bash and zsh. */
function wordLists(fn: string, commands: CompletedCommand[]): string {
  return `${fn}_subcommands() {
  case "$1" in
${groupCases(commands, '    ')}
  esac
}
${fn}_options() {
  case "$1" in
${optionCases(commands, '    ')}
  esac
}
`;
}

function bashScript(name: string, commands: CompletedCommand[]): string {
  const fn = `_${name.replace(/\W/g, '_')}`;
  return `# ${name} completion for bash: source <(${name} completion bash)
${wordLists(fn, commands)}${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" typed=() i word options
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    [[ $word == -* ]] || typed+=("$word")
  done
  if [[ $cur == -* ]]; then
    options="$(${fn}_options "\${typed[0]} \${typed[1]}")"
    [[ -n $options ]] || options="$(${fn}_options "\${typed[0]}")"
    COMPREPLY=($(compgen -W "\${options:---help --version}" -- "$cur"))
  elif ((\${#typed[@]} == 0)); then
    COMPREPLY=($(compgen -W "${firstWords(commands)}" -- "$cur"))
  elif ((\${#typed[@]} == 1)) && [[ -n $(${fn}_subcommands "\${typed[0]}") ]]; then
    COMPREPLY=($(compgen -W "$(${fn}_subcommands "\${typed[0]}")" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -o filenames -F ${fn} ${name}
`;
}

function zshScript(name: string, commands: CompletedCommand[]): string {
  const fn = `_${name.replace(/\W/g, '_')}`;
  return `#compdef ${name}
# ${name} completion for zsh: source <(${name} completion zsh)
${wordLists(fn, commands)}${fn}() {
  local -a typed
  local word options
  for word in "\${(@)words[2,CURRENT-1]}"; do
    [[ $word == -* ]] || typed+=("$word")
  done
  if [[ $PREFIX == -* ]]; then
    options="$(${fn}_options "\${typed[1]} \${typed[2]}")"
    [[ -n $options ]] || options="$(${fn}_options "\${typed[1]}")"
    compadd -- \${=\${options:---help --version}}
  elif (( \${#typed} == 0 )); then
    compadd -- ${firstWords(commands)}
  elif (( \${#typed} == 1 )) && [[ -n $(${fn}_subcommands "\${typed[1]}") ]]; then
    compadd -- \${=$(${fn}_subcommands "\${typed[1]}")}
  else
    _files
  fi
}
compdef ${fn} ${name}
`;
}
