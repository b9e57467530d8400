// The one way aim writes a count with its noun, so no summary says "1 problems" or "2 version(s)".

/** `1 version`, `0 versions`, `2 location maps`; `plural` for nouns that do not just take an s (`1 repository`). */
export function counted(count: number, singular: string, plural = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : plural}`;
}

/**
 * The first `shown` of `items` joined by `separator`, then how many more there are: a message quoting what a
 * repository or an archive holds stays one readable line however much of it there is.
 */
export function someOf(items: readonly string[], shown: number, separator = ', '): string {
  const listed = items.slice(0, shown).join(separator);
  return items.length > shown ? `${listed}${separator}and ${items.length - shown} more` : listed;
}
