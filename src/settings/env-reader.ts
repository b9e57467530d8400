import { ConfigError } from '../lib/errors.js';

// How every setting is read from the environment: an unset or empty variable means the default (an empty value is
// how a shell unsets a variable for one command), anything else must be a value aim understands. A bad value is a
// ConfigError naming the variable, never a silent default or a silent clamp: Node fires a timer set past 2^31 - 1 ms
// after 1 ms, so a timeout beyond that is refused rather than turned into no timeout at all.

/** The longest delay a Node timer keeps; longer ones fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

const TRUE_WORDS = new Set(['1', 'true', 'yes', 'on']);
const FALSE_WORDS = new Set(['0', 'false', 'no', 'off']);

/** Reads variables and collects every bad one, so one error names them all. */
export class EnvReader {
  private readonly problems: string[] = [];

  constructor(private readonly env: NodeJS.ProcessEnv) {}

  /** The value, or undefined when unset or empty. */
  text(name: string): string | undefined {
    const raw = this.env[name];
    return raw === undefined || raw === '' ? undefined : raw;
  }

  /** A whole number in [min, max] written in plain digits, or undefined when unset. */
  wholeNumber(name: string, min: number, max: number): number | undefined {
    const raw = this.text(name);
    if (raw === undefined) return undefined;
    const value = /^\d{1,16}$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
    if (value >= min && value <= max) return value;
    this.problems.push(`${name}="${raw}" must be a whole number from ${min} to ${max}`);
    return undefined;
  }

  /** One of `allowed` (case-insensitive), or undefined when unset. */
  choice<T extends string>(name: string, allowed: readonly T[]): T | undefined {
    const raw = this.text(name);
    if (raw === undefined) return undefined;
    const value = allowed.find((word) => word === raw.trim().toLowerCase());
    if (value === undefined) this.problems.push(`${name}="${raw}" must be one of ${allowed.join(', ')}`);
    return value;
  }

  /** On (1, true, yes, on) or off (0, false, no, off), or undefined when unset. */
  flag(name: string): boolean | undefined {
    const raw = this.text(name);
    if (raw === undefined) return undefined;
    const word = raw.trim().toLowerCase();
    if (TRUE_WORDS.has(word)) return true;
    if (FALSE_WORDS.has(word)) return false;
    this.problems.push(`${name}="${raw}" must be 1 or 0 (or true/false, yes/no, on/off)`);
    return undefined;
  }

  /** Throws one ConfigError naming every bad variable read so far; `hint` says where they are documented. */
  check(hint: string): void {
    if (this.problems.length === 0) return;
    throw new ConfigError(this.problems.join('; '), { hint: `fix or unset ${this.problems.length === 1 ? 'it' : 'them'} (${hint})` });
  }
}
