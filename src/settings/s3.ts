import { EnvReader, MAX_TIMER_MS } from './env-reader.js';

/** Network behaviour of the S3 backend; every field can be overridden by an environment variable (docs/s3.md). */
export interface S3Settings {
  /** AIM_S3_MAX_ATTEMPTS: tries per operation, the first included. */
  maxAttempts: number;
  /** AIM_S3_REQUEST_TIMEOUT_MS: deadline for one attempt, from sending to the last body byte. */
  requestTimeoutMs: number;
  /** AIM_S3_IDLE_TIMEOUT_MS: a connection that moves no byte for this long is stalled; the attempt is retried. */
  idleTimeoutMs: number;
  /** AIM_S3_CONNECT_TIMEOUT_MS: TCP (and TLS) connect. */
  connectTimeoutMs: number;
  /** AIM_S3_RETRY_BASE_MS: first backoff; it doubles per attempt up to AIM_S3_RETRY_MAX_MS, with full jitter. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** AIM_S3_LIST_PAGE_SIZE: MaxKeys per ListObjectsV2 page (S3 caps it at 1000, so larger values mean 1000). */
  listPageSize: number;
}

const DEFAULTS: S3Settings = {
  maxAttempts: 6,
  requestTimeoutMs: 300_000,
  idleTimeoutMs: 30_000,
  connectTimeoutMs: 10_000,
  retryBaseMs: 200,
  retryMaxMs: 10_000,
  listPageSize: 1000,
};

/** Each field's variable and the largest value that still means what it says. */
const VARIABLES: Record<keyof S3Settings, { name: string; max: number }> = {
  maxAttempts: { name: 'AIM_S3_MAX_ATTEMPTS', max: 100 },
  requestTimeoutMs: { name: 'AIM_S3_REQUEST_TIMEOUT_MS', max: MAX_TIMER_MS },
  idleTimeoutMs: { name: 'AIM_S3_IDLE_TIMEOUT_MS', max: MAX_TIMER_MS },
  connectTimeoutMs: { name: 'AIM_S3_CONNECT_TIMEOUT_MS', max: MAX_TIMER_MS },
  retryBaseMs: { name: 'AIM_S3_RETRY_BASE_MS', max: MAX_TIMER_MS },
  retryMaxMs: { name: 'AIM_S3_RETRY_MAX_MS', max: MAX_TIMER_MS },
  listPageSize: { name: 'AIM_S3_LIST_PAGE_SIZE', max: 1_000_000 },
};

/** The defaults overridden by AIM_S3_* variables; a bad value is a ConfigError naming every bad variable. */
export function s3Settings(env: NodeJS.ProcessEnv = process.env): S3Settings {
  const reader = new EnvReader(env);
  const settings = { ...DEFAULTS };
  for (const field of Object.keys(VARIABLES) as (keyof S3Settings)[]) {
    settings[field] = reader.wholeNumber(VARIABLES[field].name, 1, VARIABLES[field].max) ?? DEFAULTS[field];
  }
  reader.check('docs/s3.md lists them');
  settings.listPageSize = Math.min(settings.listPageSize, 1000);
  return settings;
}

/** AWS_REGION, the region `aim repo create` writes for an S3 repository when none is given. */
export function awsRegion(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return new EnvReader(env).text('AWS_REGION');
}

/** AWS_PROFILE, named in the hint when the SDK finds no credentials. */
export function awsProfile(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return new EnvReader(env).text('AWS_PROFILE');
}

/**
 * Silences the warning the AWS SDK prints on every run under Node 20 about its future Node 22 requirement: noise for
 * aim's users. The SDK reads it from the environment, so it is set there, before the first client is built.
 */
export function quietAwsSdkVersionWarning(): void {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}
