import { EnvReader, MAX_TIMER_MS } from './env-reader.js';

/** The Kamiwaza server as the environment names it, under the variable names Kamiwaza's own SDK reads. */
export interface KamiwazaEnv {
  /** KAMIWAZA_BASE_URL, else KAMIWAZA_BASE_URI, else KAMIWAZA_API_URL. */
  url?: string;
  /** KAMIWAZA_API_KEY, else KAMIWAZA_API_TOKEN. */
  apiKey?: string;
  /** KAMIWAZA_VERIFY_SSL: off for the self-signed certificates of local installs; on by default. */
  verifySsl: boolean;
  /** AIM_KAMIWAZA_POLL_MS: how often to poll download and deployment status; the engine's default when unset. */
  pollMs?: number;
}

/** Whether the environment names a Kamiwaza server (which makes it the default engine). */
export function kamiwazaUrl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const reader = new EnvReader(env);
  return reader.text('KAMIWAZA_BASE_URL') ?? reader.text('KAMIWAZA_BASE_URI') ?? reader.text('KAMIWAZA_API_URL');
}

export function kamiwazaEnv(env: NodeJS.ProcessEnv = process.env): KamiwazaEnv {
  const reader = new EnvReader(env);
  const settings: KamiwazaEnv = {
    url: kamiwazaUrl(env),
    apiKey: reader.text('KAMIWAZA_API_KEY') ?? reader.text('KAMIWAZA_API_TOKEN'),
    verifySsl: reader.flag('KAMIWAZA_VERIFY_SSL') ?? true,
    pollMs: reader.wholeNumber('AIM_KAMIWAZA_POLL_MS', 1, 3_600_000),
  };
  reader.check('docs/serving.md lists them');
  return settings;
}

export interface KamiwazaLimits {
  /** Total time one request may take, reply body included (not only the wait between bytes). */
  requestTimeoutMs: number;
  /** Largest reply body read; past it the request is abandoned. */
  maxReplyBytes: number;
}

/**
 * AIM_KAMIWAZA_REQUEST_TIMEOUT_MS (default 60 s: the slowest call, a model listing with files, answers in well under
 * that) and AIM_KAMIWAZA_MAX_REPLY_BYTES (default 32 MiB: a listing of thousands of models with their files).
 */
export function kamiwazaLimits(env: NodeJS.ProcessEnv = process.env): KamiwazaLimits {
  const reader = new EnvReader(env);
  const limits: KamiwazaLimits = {
    requestTimeoutMs: reader.wholeNumber('AIM_KAMIWAZA_REQUEST_TIMEOUT_MS', 1, MAX_TIMER_MS) ?? 60_000,
    maxReplyBytes: reader.wholeNumber('AIM_KAMIWAZA_MAX_REPLY_BYTES', 1024, 2 ** 30) ?? 32 * 1024 * 1024,
  };
  reader.check('docs/serving.md lists them');
  return limits;
}
