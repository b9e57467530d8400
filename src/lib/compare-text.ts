// The one order aim sorts text in: by UTF-16 code unit, as Array.prototype.sort() does without a comparator. Why not
// localeCompare: its first call loads ICU's collation data (about 10 ms), which every push and pull paid only to
// order ISO timestamps, hex digests, keys and names limited to [A-Za-z0-9._-]. For those, code-unit order is the
// timestamps' and digests' own order, it is the same on every machine and locale, and it is how `git` and `restic`
// list names: digits, then upper case, then `_`, then lower case.

/** Negative, zero or positive as `a` sorts before, with or after `b`; for `sort((a, b) => compareText(a.x, b.x))`. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
