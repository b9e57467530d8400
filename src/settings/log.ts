import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from '../lib/log.js';
import { EnvReader } from './env-reader.js';

/**
 * AIM_LOG (error, warn, info, debug, trace) and AIM_LOG_FORMAT (text, json): how much aim logs on stderr and in which
 * form, when no `-v` or `--log-format` says otherwise; undefined when unset.
 */
export function logSettings(env: NodeJS.ProcessEnv = process.env): { level?: LogLevel; format?: LogFormat } {
  const reader = new EnvReader(env);
  const settings = { level: reader.choice('AIM_LOG', LOG_LEVELS), format: reader.choice('AIM_LOG_FORMAT', LOG_FORMATS) };
  reader.check('see README.md, Logs');
  return settings;
}

/**
 * NO_COLOR (https://no-color.org): any non-empty value turns colour off, whatever the terminal; FORCE_COLOR=0 too.
 * Colour is used only on a TTY in any case.
 */
export function colorAllowed(env: NodeJS.ProcessEnv = process.env): boolean {
  const reader = new EnvReader(env);
  return reader.text('NO_COLOR') === undefined && reader.text('FORCE_COLOR') !== '0';
}
