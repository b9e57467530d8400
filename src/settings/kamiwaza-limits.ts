import { ConfigError } from '../lib/errors.js';

export interface KamiwazaLimits {
  /** Total time one request may take, reply body included (not only the wait between bytes). */
  requestTimeoutMs: number;
  /** Largest reply body read; past it the request is abandoned. */
  maxReplyBytes: number;
}

// Timers take at most 2^31-1 ms; a larger value would fire at once.
const MAX_TIMER_MS = 2 ** 31 - 1;

function bounded(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name}=${JSON.stringify(raw).slice(0, 40)} is not a whole number between ${min} and ${max}`, { hint: `unset ${name} to use the default (${fallback})` });
  }
  return value;
}

/**
 * AIM_KAMIWAZA_REQUEST_TIMEOUT_MS (default 60 s: the slowest call, a model listing with files, answers in well under
 * that) and AIM_KAMIWAZA_MAX_REPLY_BYTES (default 32 MiB: a listing of thousands of models with their files).
 */
export function kamiwazaLimits(env: NodeJS.ProcessEnv = process.env): KamiwazaLimits {
  return {
    requestTimeoutMs: bounded(env, 'AIM_KAMIWAZA_REQUEST_TIMEOUT_MS', 60_000, 1, MAX_TIMER_MS),
    maxReplyBytes: bounded(env, 'AIM_KAMIWAZA_MAX_REPLY_BYTES', 32 * 1024 * 1024, 1024, 2 ** 30),
  };
}
