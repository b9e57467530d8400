// The one way aim writes a count with its noun, so no summary says "1 problems" or "2 version(s)".

/** `1 version`, `0 versions`, `2 location maps`; `plural` for nouns that do not just take an s (`1 repository`). */
export function counted(count: number, singular: string, plural = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : plural}`;
}
