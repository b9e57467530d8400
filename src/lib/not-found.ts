import { NotFoundError } from './errors.js';

/**
 * For `.catch()` on a read whose target may legitimately be absent: a NotFoundError becomes undefined, any other
 * failure is rethrown, so a failed request is never mistaken for a missing object.
 */
export function undefinedIfNotFound(error: unknown): undefined {
  if (error instanceof NotFoundError) return undefined;
  throw error;
}
