// The few error classes a user can cause. Each carries a one-line message (what and where) and a hint (what to
// do). The CLI prints them without a stack; anything else is an internal error and shows its stack under -v.

export interface AimErrorOptions {
  hint?: string;
  cause?: unknown;
}

export class AimError extends Error {
  readonly hint?: string;
  /** Process exit code the CLI uses for this class of failure. */
  readonly exitCode: number = 1;

  constructor(message: string, options: AimErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.hint = options.hint;
  }
}

/** A repository, model, tag, file or folder that does not exist. */
export class NotFoundError extends AimError {}

/** Bytes that do not hash to their digest, or a manifest that breaks the format's rules. */
export class IntegrityError extends AimError {}

/** model_repos.yaml, a flag or an environment variable that is wrong. */
export class ConfigError extends AimError {}

/** An operation that would overwrite something immutable (a tag with other content) or race another writer. */
export class ConflictError extends AimError {}

/** Storage that cannot be used: not writable, full, unreachable, denied. */
export class StorageError extends AimError {}

/** Bad user input that is none of the above: a malformed reference, an unsafe path. */
export class UsageError extends AimError {}

/** A serving engine that failed to start, crashed or cannot be reached. */
export class EngineError extends AimError {}

export function isAimError(error: unknown): error is AimError {
  return error instanceof AimError;
}
