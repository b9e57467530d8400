// Checks of parsed JSON by hand, for formats aim writes itself and reads back in bulk (manifest-plain.ts,
// location-map-plain.ts): each accepts only values its schema accepts unchanged, so the schema is only run on the rest.

/** Keys a schema's record leaves out of its output: a value holding one takes the schema's way. */
export const DROPPED_KEYS: ReadonlySet<string> = new Set(['__proto__', 'prototype', 'constructor']);

export const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** True when `value`'s own keys are exactly `keys`, in that order. */
export function hasKeys(value: Record<string, unknown>, keys: readonly string[]): boolean {
  let index = 0;
  for (const key in value) {
    if (key !== keys[index++]) return false;
  }
  return index === keys.length;
}

/** A safe integer from `min` to `max`. */
export const isWhole = (value: unknown, min: number, max: number): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max;
