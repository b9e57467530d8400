import { Command, Option } from 'clipanion';
import type { ProgressSink } from '../core/progress.js';
import { silentProgress } from '../core/progress.js';
import type { Repository } from '../core/store/repository.js';
import { Session } from '../core/session.js';
import { formatError, formatWarning } from './render/errors.js';
import { allowDirectIo } from '../lib/direct-io.js';
import { runtimeSwitches } from '../settings/runtime.js';
import { plainProgress, ttyProgress } from './render/progress-renderer.js';
import { jsonText, terminalText } from './render/terminal.js';

/**
 * Options every command shares, and the one place errors are rendered. Subclasses implement `run()`: parse, call
 * core, render. `execute()` turns a thrown error into one plain line and an exit code.
 */
export abstract class AimCommand extends Command {
  configPath = Option.String('--config', { description: 'model_repos.yaml to use (default: AIM_CONFIG, else searched from here upward)' });
  json = Option.Boolean('--json', false, { description: 'print one JSON document on stdout' });
  quiet = Option.Boolean('-q,--quiet', false, { description: 'no progress output' });
  verbose = Option.Counter('-v,--verbose', 0, { description: 'more detail; stack traces on errors' });

  private sessionPromise?: Promise<Session>;

  abstract run(): Promise<number | void>;

  async execute(): Promise<number> {
    try {
      allowDirectIo(runtimeSwitches().directIo); // src/lib reads no environment: the setting reaches it here
      return (await this.run()) ?? 0;
    } catch (error) {
      const { text, exitCode } = formatError(error, this.verbose);
      this.context.stderr.write(text);
      return exitCode;
    } finally {
      await this.writeIoStats();
    }
  }

  /** AIM_IO_STATS: the storage counts, written whatever the outcome (a failed command's reads count too). */
  private async writeIoStats(): Promise<void> {
    const session = await this.sessionPromise?.catch(() => undefined);
    await session?.writeIoStats().catch((error: unknown) => {
      this.context.stderr.write(formatWarning(`could not write AIM_IO_STATS: ${error instanceof Error ? error.message : String(error)}`));
    });
  }

  /** This command's flags that override settings (settings-table.ts), by setting key; none by default. */
  protected settingFlags(): Record<string, unknown> {
    return {};
  }

  session(): Promise<Session> {
    this.sessionPromise ??= Session.open({ explicitPath: this.configPath, flags: this.settingFlags() });
    return this.sessionPromise;
  }

  async repository(name: string): Promise<Repository> {
    return (await this.session()).repository(name);
  }

  progress(): ProgressSink {
    if (this.json || this.quiet) return silentProgress;
    const stderr = this.context.stderr as NodeJS.WriteStream;
    return stderr.isTTY ? ttyProgress(stderr) : plainProgress(stderr);
  }

  /** Prints `data` as JSON with --json, else the human text, escaped for the terminal (render/terminal.ts). */
  report(data: unknown, human: () => string): void {
    if (this.json) this.context.stdout.write(`${jsonText(data)}\n`);
    else {
      const text = human();
      if (text) this.context.stdout.write(`${terminalText(text)}\n`);
    }
  }

  /** One line on stderr for each part of the repository the command stepped over (--json lists them too). */
  warnAbout(problems: Array<{ key: string; message: string }>): void {
    for (const { key, message } of problems) this.context.stderr.write(formatWarning(`skipped ${key}: ${message}`));
  }
}
