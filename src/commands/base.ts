import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Command, Option } from 'clipanion';
import * as t from 'typanion';
import type { ProgressSink } from '../core/progress.js';
import { silentProgress } from '../core/progress.js';
import type { Repository } from '../core/store/repository.js';
import { Session } from '../core/session.js';
import { errorDocument, formatError, formatWarning, formatWarnings } from './render/errors.js';
import { counted } from '../lib/plural.js';
import { allowDirectIo } from '../lib/direct-io.js';
import { ConfigError } from '../lib/errors.js';
import { configureLog, jsonLogLine, log, LOG_FORMATS, textLogLine, type LogFormat, type LogLevel } from '../lib/log.js';
import { logSettings } from '../settings/log.js';
import { runtimeSwitches } from '../settings/runtime.js';
import { testCommandNeverEnds } from '../settings/test-hooks.js';
import { plainProgress, ttyProgress } from './render/progress-renderer.js';
import { escapeRawInJson, jsonText, terminalLine, terminalText } from '../lib/terminal-text.js';

/** With JSON log lines on stderr, progress is not drawn there: its notes become events, its bars are left out. */
const loggedProgress: ProgressSink = {
  begin: (label, totalBytes) => silentProgress.begin(label, totalBytes),
  note: (message) => log.info('note', { message }),
};

/**
 * Options every command shares, and the one place errors are rendered. Subclasses implement `run()`: parse, call
 * core, render. `execute()` turns a thrown error into one plain line and an exit code.
 */
export abstract class AimCommand extends Command {
  configPath = Option.String('-c,--config', { description: 'model_repos.yaml to use (default: AIM_CONFIG, else searched from here upward)' });
  json = Option.Boolean('--json', false, { description: 'print one JSON document on stdout, errors too' });
  quiet = Option.Boolean('-q,--quiet', false, { description: 'no progress output' });
  verbose = Option.Counter('-v,--verbose', 0, { description: 'log on stderr: -v debug, -vv trace; stack traces on errors' });
  logFormat = Option.String('--log-format', { description: 'log lines as text or json (default: AIM_LOG_FORMAT, else text)', validator: t.isEnum(LOG_FORMATS) });

  /** The one command that may name a config file that is not there yet: it writes it. */
  protected configMayBeNew = false;
  private logFormatInUse?: LogFormat;
  private reported = false;
  /** The progress bars on a terminal, once drawn: log lines are written through them. */
  private bars?: ProgressSink;
  private sessionPromise?: Promise<Session>;

  abstract run(): Promise<number | void>;

  async execute(): Promise<number> {
    try {
      this.startLogging();
      allowDirectIo(runtimeSwitches().directIo); // src/lib reads no environment: the setting reaches it here
      // The test suite plants a bug here: a wait on what never settles, which cli.ts's net must end (exit 70).
      if (testCommandNeverEnds()) await new Promise<never>(() => undefined);
      return (await this.run()) ?? 0;
    } catch (error) {
      const { text, exitCode } = formatError(error, this.verbose);
      const document = errorDocument(error);
      // A log collector reading JSON lines gets the failure as one more line of its kind.
      if (this.jsonLogs()) log.error('command failed', { ...document.error, stack: this.verbose > 0 && error instanceof Error ? error.stack : undefined });
      else this.context.stderr.write(text);
      // A command that printed its result and then fails (verify finding damage) has printed its one document.
      if (this.json && !this.reported) this.context.stdout.write(`${jsonText(document)}\n`);
      return exitCode;
    } finally {
      await this.writeIoStats();
      configureLog(undefined);
    }
  }

  /** Whether stderr carries JSON lines only (--log-format json, or AIM_LOG_FORMAT=json), once logging started. */
  private jsonLogs(): boolean {
    return this.logFormatInUse === 'json';
  }

  /** -v and --log-format as the settings they set (settings-table.ts); undefined when not given. */
  private logFlags(): Record<string, unknown> {
    return { 'log.level': this.verbose >= 2 ? 'trace' : this.verbose === 1 ? 'debug' : undefined, 'log.format': this.logFormat };
  }

  /**
   * Named events (lib/log.ts) on stderr: -v debug, -vv trace, else AIM_LOG; --log-format, else AIM_LOG_FORMAT. The
   * config file's `aim.log` applies once it is read (`session()`); these come first so nothing before is lost.
   */
  private startLogging(): void {
    const { level, format } = logSettings();
    const flags = this.logFlags() as { 'log.level'?: LogLevel; 'log.format'?: LogFormat };
    this.logTo(flags['log.level'] ?? level ?? 'warn', flags['log.format'] ?? format ?? 'text');
  }

  /**
   * The log settings once the config is read: flag > env > the config's aim: section > default. Settings that do not
   * resolve leave logging as it started; the error is the business of what reads them (`aim config set` must still
   * be able to fix a bad value, and `aim config list` names it).
   */
  private logAsConfigured(session: Session): void {
    let settings;
    try {
      settings = session.settings();
    } catch {
      return;
    }
    this.logTo(settings.text('log.level') as LogLevel, settings.text('log.format') as LogFormat);
  }

  private logTo(level: LogLevel, format: LogFormat): void {
    const stderr = this.context.stderr;
    configureLog({
      level,
      write: (record) => {
        if (format === 'json') stderr.write(`${escapeRawInJson(jsonLogLine(record))}\n`);
        // Above a progress bar, not glued to it: a note takes the bar's line and the bar redraws below.
        else if (this.bars) this.bars.note(textLogLine(record));
        else stderr.write(`${terminalLine(textLogLine(record))}\n`);
      },
    });
    this.logFormatInUse = format;
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
    this.sessionPromise ??= this.checkConfigFlag()
      .then(() => Session.open({ explicitPath: this.configPath, flags: { ...this.logFlags(), ...this.settingFlags() } }))
      .then((session) => {
        this.logAsConfigured(session);
        return session;
      });
    return this.sessionPromise;
  }

  /** `-c FILE` names a file the user means to use: one that is not there is a typo, not an empty configuration. */
  private async checkConfigFlag(): Promise<void> {
    if (this.configPath === undefined || this.configMayBeNew) return;
    const file = resolve(this.configPath);
    const exists = await stat(file).then(() => true, (error: NodeJS.ErrnoException) => error.code !== 'ENOENT');
    if (!exists) {
      throw new ConfigError(`config file ${file} (--config) does not exist`, {
        hint: 'check the path, or create it with `aim repo create NAME --type local --path PATH --config FILE`',
      });
    }
  }

  async repository(name: string): Promise<Repository> {
    return (await this.session()).repository(name);
  }

  progress(): ProgressSink {
    if (this.json || this.quiet) return silentProgress;
    if (this.jsonLogs()) return loggedProgress;
    const stderr = this.context.stderr as NodeJS.WriteStream;
    if (!stderr.isTTY) return plainProgress(stderr);
    this.bars ??= ttyProgress(stderr);
    return this.bars;
  }

  /** Prints `data` as JSON with --json, else the human text, escaped for the terminal (lib/terminal-text.ts). */
  report(data: unknown, human: () => string): void {
    this.reported = true;
    if (this.json) this.context.stdout.write(`${jsonText(data)}\n`);
    else {
      const text = human();
      if (text) this.context.stdout.write(`${terminalText(text)}\n`);
    }
  }

  /**
   * One line on stderr for each part of the repository the command stepped over, up to a few and then a count: a
   * repository holding thousands of broken keys must not flood the terminal (--json lists them all).
   */
  warnAbout(problems: Array<{ key: string; message: string }>): void {
    if (this.jsonLogs()) {
      for (const { key, message } of problems) log.warn('skipped', { key, message });
      return;
    }
    const lines = problems.map(({ key, message }) => `skipped ${key}: ${message}`);
    this.context.stderr.write(formatWarnings(lines, (more) => `skipped ${counted(more, 'more unreadable part')} of the repository (--json lists them all)`));
  }
}
