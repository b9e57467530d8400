import { EnvReader, MAX_TIMER_MS } from './env-reader.js';

/** Network behaviour of a repository served over HTTP (type http); README's settings list names the variables. */
export interface HttpSettings {
  /** AIM_HTTP_IDLE_TIMEOUT_MS: a server that sends no byte for this long is stalled; the read fails plainly. */
  idleTimeoutMs: number;
}

/** The defaults overridden by AIM_HTTP_* variables; a bad value is a ConfigError naming the variable. */
export function httpSettings(env: NodeJS.ProcessEnv = process.env): HttpSettings {
  const reader = new EnvReader(env);
  const idleTimeoutMs = reader.wholeNumber('AIM_HTTP_IDLE_TIMEOUT_MS', 1, MAX_TIMER_MS) ?? 30_000;
  reader.check('README lists the AIM_HTTP_* settings');
  return { idleTimeoutMs };
}
