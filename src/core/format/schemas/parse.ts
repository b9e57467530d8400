import * as v from 'valibot';
import { IntegrityError, type AimError, type AimErrorOptions } from '../../../lib/errors.js';
import { isDigest, type Digest } from '../digest.js';
import { MAX_COUNT, MAX_TEXT } from './limits.js';

// How every format aim reads back is checked: bytes -> bounded size -> JSON -> schema -> typed value, or one
// plain "corrupt X at FILE: why" error naming the file. Nothing read from a repository, DEST/.aim or AIM_HOME is
// used before it passed its schema, and no failure is ever anything but an AimError.

/** A format: what to call it in errors, how big it may be, and what the user can do about a bad copy. */
export interface Format {
  /** "tag", "index file", "manifest", ... */
  what: string;
  maxBytes: number;
  hint: string;
  /** IntegrityError (damaged or hostile bytes) unless the format is the user's own configuration. */
  error?: new (message: string, options?: AimErrorOptions) => AimError;
}

export function corrupt(format: Format, where: string, why: string): AimError {
  const ErrorClass = format.error ?? IntegrityError;
  return new ErrorClass(`corrupt ${format.what} at ${where}: ${why}`, { hint: format.hint });
}

const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

/** A value from a hostile file, shortened and with control characters escaped, safe to print in one line. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') {
    const shown = value.length > 48 ? `${value.slice(0, 48)}...` : value;
    return JSON.stringify(shown).replace(UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value);
  return Array.isArray(value) ? 'a list' : typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function issueText(issue: v.BaseIssue<unknown>): string {
  const items = issue.path ?? [];
  // A bad key of a record is both the last step of the path and the input: named once.
  const keyIssue = items.length > 0 && items.at(-1)!.key === issue.input;
  const path = (keyIssue ? items.slice(0, -1) : items).map((item) => describeKey(item.key)).join('.');
  const subject = typeof issue.input === 'object' && issue.input !== null ? '' : `${describeValue(issue.input)} `;
  const what =
    issue.kind !== 'schema' ? `${subject}${issue.message}` : issue.input === undefined ? 'is missing' : `expected ${issue.expected ?? 'something else'}, got ${describeValue(issue.input)}`;
  return path ? `${path}: ${what}` : what;
}

function describeKey(key: unknown): string {
  return typeof key === 'string' && /^[\w.-]{1,48}$/.test(key) ? key : describeValue(key);
}

/** The first few problems, in one line. */
export function summarizeIssues(issues: readonly v.BaseIssue<unknown>[]): string {
  const shown = issues.slice(0, 3).map(issueText);
  return issues.length > 3 ? `${shown.join('; ')} (and ${issues.length - 3} more)` : shown.join('; ');
}

/** `value` checked against `schema`, or the format's error naming `where`. */
export function parseValue<const S extends v.GenericSchema>(schema: S, value: unknown, format: Format, where: string): v.InferOutput<S> {
  const result = v.safeParse(schema, value);
  if (!result.success) throw corrupt(format, where, summarizeIssues(result.issues));
  return result.output;
}

/** JSON text of at most `format.maxBytes`, parsed, or the format's error naming `where`. */
export function parseJsonText(bytes: Uint8Array | string, format: Format, where: string): unknown {
  const size = typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.byteLength;
  if (size > format.maxBytes) throw corrupt(format, where, `${size} bytes, more than the ${format.maxBytes} such a file can hold`);
  if (size === 0) throw corrupt(format, where, 'the file is empty');
  const text = typeof bytes === 'string' ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    // V8 quotes the text around the fault, which may be anything: only where it is.
    const at = /position (\d+)/.exec(String((error as Error)?.message))?.[1];
    throw corrupt(format, where, `not valid JSON${at === undefined ? '' : ` (at byte ${at})`}`);
  }
}

/** JSON bytes of `format`, checked against `schema`: the one way aim turns bytes it reads back into a value. */
export function parseJson<const S extends v.GenericSchema>(schema: S, bytes: Uint8Array | string, format: Format, where: string): v.InferOutput<S> {
  return parseValue(schema, parseJsonText(bytes, format, where), format, where);
}

/** Like parseJson, but a file that does not read gives undefined: for caches, which only cost time when lost. */
export function parseJsonOrUndefined<const S extends v.GenericSchema>(schema: S, bytes: Uint8Array | string | undefined, format: Format): v.InferOutput<S> | undefined {
  if (bytes === undefined) return undefined;
  try {
    return parseJson(schema, bytes, format, format.what);
  } catch {
    return undefined;
  }
}

// The building blocks of every format.

/** A whole number from 0 to `max`. */
export const count = (max = MAX_COUNT) =>
  v.pipe(v.number(), v.safeInteger('is not a whole number'), v.minValue(0, 'is negative'), v.maxValue(max, `is more than ${max}`));

/** A byte size from `min` to `max`. */
export const byteSize = (min = 0, max = Number.MAX_SAFE_INTEGER) =>
  v.pipe(v.number(), v.safeInteger('is not a whole number'), v.minValue(min, `is less than ${min}`), v.maxValue(max, `is more than ${max}`));

/** A string aim wrote (a name, a URL, a mark), bounded. */
export const text = (max = MAX_TEXT) => v.pipe(v.string(), v.maxLength(max, `is longer than ${max} characters`));

/** An ISO 8601 time as `Date.toISOString()` writes it. */
export const timestamp = v.pipe(
  v.string(),
  v.maxLength(64, 'is too long for a time'),
  v.check((value) => !Number.isNaN(Date.parse(value)), 'is not a time'),
);

/** `blake3:` and 64 lowercase hex: nothing else may become a key, a path or an allocation. */
export const digest = v.pipe(
  v.string(),
  v.check((value: string) => isDigest(value), 'is not a digest (blake3: and 64 lowercase hex)'),
  v.transform((value) => value as Digest),
);

const PACK_ID = /^[0-9a-f]{32}$/;

export function isPackId(value: unknown): value is string {
  return typeof value === 'string' && PACK_ID.test(value);
}

/** A pack's (or an index file's) id: 32 lowercase hex, as newPackId makes them. */
export const packId = v.pipe(v.string(), v.check((value: string) => isPackId(value), 'is not a pack id (32 lowercase hex)'));
