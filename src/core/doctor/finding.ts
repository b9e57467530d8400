// What `aim doctor` reports: one finding per check, each a status, one line saying what was found and, when
// something needs doing, a hint saying what.

export type FindingStatus = 'ok' | 'warn' | 'fail';

export interface Finding {
  /** What was checked: `config`, `repository team`, `AIM_HOME`... */
  check: string;
  status: FindingStatus;
  message: string;
  hint?: string;
}

export const ok = (check: string, message: string): Finding => ({ check, status: 'ok', message });
export const warn = (check: string, message: string, hint?: string): Finding => ({ check, status: 'warn', message, hint });
export const fail = (check: string, message: string, hint?: string): Finding => ({ check, status: 'fail', message, hint });

/** A failed check's finding from what it threw: an AimError's own message and hint, else the error's message. */
export function failureOf(check: string, error: unknown, hint?: string): Finding {
  const message = error instanceof Error ? error.message.split('\n')[0]! : String(error);
  const own = typeof error === 'object' && error !== null && 'hint' in error && typeof error.hint === 'string' ? error.hint : undefined;
  return fail(check, message, own ?? hint);
}

/** `work` within `ms`, else a rejection saying it did not answer: a doctor must never hang on what it checks. */
export function within<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
