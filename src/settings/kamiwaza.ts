import { EnvReader } from './env-reader.js';

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
