import { Cli, Command } from 'clipanion';

// clipanion names every option's value `#0` (`--tag #0`); people expect a word for what goes there (`--tag TAG`),
// as git and the AWS CLI print. The name comes from the option itself, so a command added later gets one too.

/** Values whose option's own name says less than a word for what it takes. */
const VALUE_NAMES: Record<string, string> = {
  config: 'FILE',
  concurrency: 'N',
  sample: 'PERCENT',
  include: 'GLOB',
  exclude: 'GLOB',
  annotation: 'KEY=VALUE',
  description: 'TEXT',
  'log-format': 'text|json',
  'ctx-size': 'TOKENS',
  endpoint: 'URL',
  threads: 'N',
};

/** `--tag #0` -> `--tag TAG`, `-c,--config #0` -> `-c,--config FILE`, `--ctx-size #0` -> `--ctx-size TOKENS`. */
export function withValueNames(usage: string): string {
  return usage.replace(/(-{1,2}([A-Za-z][\w-]*))((?: #\d+)+)/g, (_match, option: string, name: string, slots: string) => {
    const value = VALUE_NAMES[name] ?? name.toUpperCase().replace(/-/g, '_');
    return `${option}${` ${value}`.repeat(slots.trim().split(/\s+/).length)}`;
  });
}

interface UsageParts {
  usage: string;
  options: Array<{ definition: string; description: string; required: boolean }>;
}

/** The options every command takes: a one-line usage leaves them out (each command's --help lists them). */
const SHARED_OPTIONS = / \[(?:-c,--config FILE|--json|-q,--quiet|-v,--verbose|--log-format text\|json)\]/g;

/**
 * clipanion's Cli with value names in every usage line, option list and definition it prints, and one-line usages
 * (the list of commands) without the options every command shares.
 */
export class AimCli extends Cli {
  protected override getUsageByIndex(n: number, opts?: { detailed?: boolean; inlineOptions?: boolean }): UsageParts {
    const { usage, options } = super.getUsageByIndex(n, opts);
    const line = withValueNames(usage);
    return {
      usage: opts?.inlineOptions === false ? line : line.replace(SHARED_OPTIONS, ''),
      options: options.map((option) => ({ ...option, definition: withValueNames(option.definition) })),
    };
  }
}

/** `aim -V`, `aim --version` (`-v` is --verbose, as in most tools that log). */
export class AimVersionCommand extends Command {
  static override paths = [['-V'], ['--version']];
  async execute(): Promise<void> {
    this.context.stdout.write(`${this.cli.binaryVersion ?? '<unknown>'}\n`);
  }
}
