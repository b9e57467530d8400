// What S3 and the network can say, turned into aim's few error classes once, at the backend's edge. The input is
// whatever the AWS SDK or Node threw: service errors carry `name` (the S3 error code) and `$metadata.httpStatusCode`,
// network errors carry a Node `code` (ECONNREFUSED ...), the credential chain throws CredentialsProviderError.
import { AimError, ConfigError, ConflictError, IntegrityError, NotFoundError, StorageError } from '../../lib/errors.js';
import { awsProfile } from '../../settings/s3.js';

/** Where an operation went, for messages. Never holds secrets. */
export interface S3Where {
  /** s3://bucket/prefix */
  location: string;
  bucket: string;
  /** Key relative to the repository prefix, when the operation had one. */
  key?: string;
  endpoint?: string;
  region?: string;
  profile?: string;
}

/** Thrown by the retry loop when every attempt failed with a retryable error; `last` is the final failure. */
export class RetriesExhausted extends Error {
  constructor(
    readonly last: unknown,
    readonly attempts: number,
  ) {
    super(`gave up after ${attempts} attempts`);
  }
}

interface ErrorShape {
  name?: string;
  code?: string;
  message?: string;
  Code?: string;
  Region?: string;
  BucketRegion?: string;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number };
  $response?: { headers?: Record<string, string | undefined> };
  errors?: ErrorShape[];
}

/**
 * Text a server sent, made safe to print on one terminal line: control characters (escape sequences, newlines, C1
 * codes) become visible `\xNN` escapes, and the length is capped, so a hostile or broken endpoint can neither drive
 * the user's terminal nor flood it.
 */
export function plainServerText(text: string, maxLength = 200): string {
  const escaped = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return escaped.length > maxLength ? `${escaped.slice(0, maxLength)}...` : escaped;
}

function shape(error: unknown): ErrorShape {
  return typeof error === 'object' && error !== null ? (error as ErrorShape) : { message: String(error) };
}

/** The S3 error code or Node error code that best names the failure, safe to print. */
export function errorCode(error: unknown): string {
  return plainServerText(rawErrorCode(error), 64);
}

function rawErrorCode(error: unknown): string {
  const e = shape(error);
  // Node's happy-eyeballs connect failures arrive as an AggregateError whose members carry the code.
  const nested = e.errors?.find((inner) => inner.code)?.code;
  const named = e.name && e.name !== 'Error' && e.name !== 'AggregateError' ? e.name : undefined;
  return e.code ?? nested ?? e.Code ?? named ?? 'Unknown';
}

export function httpStatus(error: unknown): number | undefined {
  return shape(error).$metadata?.httpStatusCode;
}

const NETWORK_CODES = new Set([
  'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNREFUSED', 'ECONNABORTED', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH',
  'ENETDOWN', 'ERR_STREAM_PREMATURE_CLOSE', 'TimeoutError', 'RequestTimeout', 'RequestTimeoutException',
]);
const THROTTLING_CODES = new Set([
  'SlowDown', 'Throttling', 'ThrottlingException', 'ThrottledException', 'RequestThrottled', 'RequestThrottledException',
  'TooManyRequestsException', 'RequestLimitExceeded', 'BandwidthLimitExceeded', 'ProvisionedThroughputExceededException',
]);
const CREDENTIAL_CODES = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch']);
/** The server found an upload's bytes not those its Content-MD5 (or payload hash) named: changed on the way. */
const DAMAGED_UPLOAD_CODES = new Set(['BadDigest', 'InvalidDigest', 'XAmzContentSHA256Mismatch']);
const EXPIRED_CODES = new Set(['ExpiredToken', 'ExpiredTokenException', 'TokenRefreshRequired', 'InvalidToken']);
const REGION_CODES = new Set(['PermanentRedirect', 'AuthorizationHeaderMalformed', 'IllegalLocationConstraintException']);

function isThrottling(error: unknown): boolean {
  return THROTTLING_CODES.has(errorCode(error)) || httpStatus(error) === 429 || httpStatus(error) === 503;
}

/** Worth another attempt: throttling, server errors, dropped or stalled connections, a conditional-write race. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof AimError) return false;
  const code = errorCode(error);
  const status = httpStatus(error) ?? 0;
  return (
    NETWORK_CODES.has(code) ||
    isThrottling(error) ||
    status >= 500 ||
    code === 'ConditionalRequestConflict' ||
    shape(error).$retryable !== undefined
  );
}

/** The region S3 says the bucket lives in, when a wrong-region answer names it. */
function regionHint(error: unknown): string | undefined {
  const e = shape(error);
  const named = e.Region ?? e.BucketRegion ?? e.$response?.headers?.['x-amz-bucket-region'];
  const region = named ?? /expecting '([a-z0-9-]+)'/.exec(e.message ?? '')?.[1];
  return region === undefined ? undefined : plainServerText(region, 64);
}

function isRegionError(error: unknown, region: string | undefined): boolean {
  const code = errorCode(error);
  if (REGION_CODES.has(code) || httpStatus(error) === 301) return true;
  if (shape(error).message === 'Region is missing') return true;
  const named = regionHint(error);
  return named !== undefined && region !== undefined && named !== region;
}

const verbs: Record<string, string> = { read: 'read', write: 'write', list: 'list', delete: 'delete', check: 'check' };

/** One failed operation, with the pieces every message is built from. */
interface Failure {
  error: unknown;
  code: string;
  status: number | undefined;
  where: S3Where;
  target: string;
  server: string;
  verb: string;
  after: string;
  options: (hint: string) => { hint: string; cause: unknown };
}

/** Missing, wrong or expired credentials. */
function credentialError({ error, code, where, target, server, verb, options }: Failure): AimError | undefined {
  if (error instanceof Error && error.name === 'CredentialsProviderError') {
    const profile = where.profile ?? awsProfile();
    return new StorageError(`no AWS credentials found to ${verb} ${target}`, options(profile
      ? `check that profile "${profile}" exists in ~/.aws/credentials or ~/.aws/config and has keys (or run aws sso login --profile ${profile})`
      : 'set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE naming a profile in ~/.aws/credentials'));
  }
  if (CREDENTIAL_CODES.has(code)) {
    const which = code === 'InvalidAccessKeyId' ? 'access key id' : 'secret access key (the signature did not match; a request changed on its way does that too)';
    return new StorageError(`${server} rejected the AWS credentials: wrong ${which} while trying to ${verb} ${target}`,
      options('check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the profile in use (AWS_PROFILE, the repository\'s profile)'));
  }
  if (EXPIRED_CODES.has(code)) {
    return new StorageError(`the AWS session credentials have expired (${code}) while trying to ${verb} ${target}`,
      options('refresh them (for SSO: aws sso login) or unset AWS_SESSION_TOKEN if it is stale'));
  }
  return undefined;
}

/** Failures that retrying later may cure: the network, throttling, server errors. */
function transientError({ error, code, status, where, target, server, verb, after, options }: Failure): AimError | undefined {
  if (NETWORK_CODES.has(code) || code === 'ENOTFOUND') {
    const why = networkReason(code);
    return new StorageError(`cannot ${verb} ${target}: ${why}${where.endpoint ? ` talking to ${where.endpoint}` : ''}${after}`, options(
      where.endpoint
        ? `check that the server at ${where.endpoint} is running and reachable (the repository's --endpoint); transfers resume where they stopped`
        : 'check the network connection; transfers resume where they stopped',
    ));
  }
  if (isThrottling(error)) {
    return new StorageError(`${server} kept throttling requests (${code}) to ${verb} ${target}${after}`, options(
      'lower the repository\'s concurrency or try again later; transfers resume where they stopped',
    ));
  }
  if (status !== undefined && status >= 500) {
    return new StorageError(`${server} failed with ${status} ${code} while trying to ${verb} ${target}${after}`, options(
      'try again later; transfers resume where they stopped',
    ));
  }
  return undefined;
}

/** Translates one failed operation (`op`: read, write, list, delete, check) into an AimError with a hint. */
export function translateS3Error(error: unknown, op: string, where: S3Where): AimError {
  let attempts = 1;
  if (error instanceof RetriesExhausted) {
    attempts = error.attempts;
    error = error.last;
  }
  if (error instanceof AimError) return error;
  const code = errorCode(error);
  const status = httpStatus(error);
  const target = where.key === undefined ? where.location : `${where.location}/${where.key}`;
  const server = where.endpoint ? `the S3 endpoint ${where.endpoint}` : 'AWS S3';
  const verb = verbs[op] ?? op;
  const after = attempts > 1 ? ` (after ${attempts} attempts)` : '';
  const options = (hint: string) => ({ hint, cause: error });
  const failure: Failure = { error, code, status, where, target, server, verb, after, options };

  if (code === 'NoSuchBucket' || (code === 'NotFound' && where.key === undefined)) {
    return new NotFoundError(`bucket ${where.bucket} does not exist on ${server}`, options(
      `create it (aws s3 mb s3://${where.bucket}${where.endpoint ? ` --endpoint-url ${where.endpoint}` : ''}) or fix the path in model_repos.yaml`,
    ));
  }
  if (code === 'NoSuchKey' || code === 'NotFound') {
    return new NotFoundError(`${where.key} not found in ${where.location}`, { cause: error });
  }
  const credentials = credentialError(failure);
  if (credentials) return credentials;
  if (isRegionError(error, where.region)) {
    const right = regionHint(error);
    const message = right
      ? `bucket ${where.bucket} is in region ${right}, not ${where.region ?? '(none set)'}`
      : `wrong or missing region for bucket ${where.bucket} (${where.region ?? 'none set'}): ${code}`;
    return new ConfigError(message, options(
      `set the repository's region: aim repo create ... --region ${right ?? '<region>'} (or region: in model_repos.yaml)`,
    ));
  }
  if (code === 'AccessDenied' || code === 'AllAccessDisabled' || status === 403) {
    return new StorageError(`access denied: cannot ${verb} ${target}`, options(
      `the credentials need s3:ListBucket on ${where.bucket} and s3:GetObject, s3:PutObject, s3:DeleteObject on ${target}/*`,
    ));
  }
  if (code === 'PreconditionFailed' || status === 412) {
    return new ConflictError(`${target} was changed by another writer`, options('run the command again; it re-reads the current value'));
  }
  if (DAMAGED_UPLOAD_CODES.has(code)) {
    return new IntegrityError(`${server} refused the bytes sent to ${target}: they were changed on the way (${code}), and it stored nothing`, options(
      `run the command again; if this repeats, something between aim and ${where.endpoint ?? 'S3'} (a proxy, the network) changes data`,
    ));
  }
  if (code === 'InvalidBucketName') {
    return new ConfigError(`${where.bucket} is not a valid bucket name`, options('fix the path in model_repos.yaml (s3://bucket/prefix)'));
  }
  const transient = transientError(failure);
  if (transient) return transient;
  const message = plainServerText(shape(error).message ?? '');
  return new StorageError(`cannot ${verb} ${target}: ${code}${message && message !== code ? `: ${message}` : ''}${after}`,
    options(where.endpoint ? `check that ${where.endpoint} is an S3-compatible server` : 'see docs/s3.md'));
}

function networkReason(code: string): string {
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    case 'ETIMEDOUT':
    case 'TimeoutError':
    case 'RequestTimeout':
    case 'RequestTimeoutException':
      return 'the request timed out';
    default:
      return `the connection dropped (${code})`;
  }
}
