import { UsageError } from '../../lib/errors.js';

// Sizes as people write them: `20GiB`, `500 MB`, `1.5G`, `1048576`. Binary and decimal units are both taken at
// their word (GiB = 1024^3, GB = 1000^3); a bare K, M, G or T is binary, as in `ls -h`.

const UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1024, kib: 1024, kb: 1000,
  m: 1024 ** 2, mib: 1024 ** 2, mb: 1000 ** 2,
  g: 1024 ** 3, gib: 1024 ** 3, gb: 1000 ** 3,
  t: 1024 ** 4, tib: 1024 ** 4, tb: 1000 ** 4,
};

/** Bytes of a size written as text, or undefined when it is not one. */
export function byteSizeOf(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = match ? UNITS[match[2]!.toLowerCase()] : undefined;
  if (!match || unit === undefined) return undefined;
  const bytes = Math.floor(Number(match[1]) * unit);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** As byteSizeOf, for a flag: a plain usage error naming it when the text is not a size. */
export function parseByteSize(text: string, flag: string): number {
  const bytes = byteSizeOf(text);
  if (bytes === undefined) throw new UsageError(`${flag} ${text} is not a size`, { hint: `write a size such as 20GiB, 500MB or 1048576` });
  return bytes;
}
