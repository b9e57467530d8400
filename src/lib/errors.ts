// The few error classes a user can cause. Each carries a one-line message (what and where) and a hint (what to
// do). The CLI prints them without a stack; anything else is an internal error and shows its stack under -v.
// Each class exits with its own code, so a script can tell "not there" from "damaged" from "try again later"
// without reading the message (70, EX_SOFTWARE, is left for internal errors; 130/143 for Ctrl-C and SIGTERM).
export const EXIT_CODES = { error: 1, usage: 2, notFound: 3, integrity: 4, conflict: 5, storage: 6, config: 7, engine: 8 } as const;

export interface AimErrorOptions {
  hint?: string;
  cause?: unknown;
}

export class AimError extends Error {
  readonly hint?: string;
  /** Process exit code the CLI uses for this class of failure. */
  readonly exitCode: number = EXIT_CODES.error;

  constructor(message: string, options: AimErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.hint = options.hint;
  }
}

/** A repository, model, tag, file or folder that does not exist. */
export class NotFoundError extends AimError {
  override readonly exitCode: number = EXIT_CODES.notFound;
}

/** Bytes that do not hash to their digest, or a manifest that breaks the format's rules. */
export class IntegrityError extends AimError {
  override readonly exitCode: number = EXIT_CODES.integrity;
}

/** model_repos.yaml, a flag or an environment variable that is wrong. */
export class ConfigError extends AimError {
  override readonly exitCode: number = EXIT_CODES.config;
}

/** An operation that would overwrite something immutable (a tag with other content) or race another writer. */
export class ConflictError extends AimError {
  override readonly exitCode: number = EXIT_CODES.conflict;
}

/** Storage that cannot be used: not writable, full, unreachable, denied. */
export class StorageError extends AimError {
  override readonly exitCode: number = EXIT_CODES.storage;
}

/** Bad user input that is none of the above: a malformed reference, an unsafe path. */
export class UsageError extends AimError {
  override readonly exitCode: number = EXIT_CODES.usage;
}

/** A serving engine that failed to start, crashed or cannot be reached. */
export class EngineError extends AimError {
  override readonly exitCode: number = EXIT_CODES.engine;
}

export function isAimError(error: unknown): error is AimError {
  return error instanceof AimError;
}
