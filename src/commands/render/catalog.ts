import type { CatalogView } from '../../core/catalog/browse.js';
import { counted } from '../../lib/plural.js';
import { formatWarning } from './errors.js';

// What `aim list` and `aim search` print on stderr besides their table: repositories that could not be reached
// and catalog files that were stepped over.

/** Skipped files named one by one; a repository holding a million broken files gets one line for the rest. */
export const MAX_PROBLEMS_SHOWN = 20;

export function catalogWarnings(view: Pick<CatalogView, 'unreachable' | 'problems'>): string {
  const shown = view.problems.slice(0, MAX_PROBLEMS_SHOWN);
  const more = view.problems.length - shown.length;
  return [
    ...view.unreachable.map(({ repo, message }) => formatWarning(`repository ${repo} could not be read, its models are not shown: ${message}`)),
    ...shown.map(({ repo, key, message }) => formatWarning(`${repo}: skipped ${key}: ${message}`)),
    ...(more > 0 ? [formatWarning(`skipped ${counted(more, 'more catalog problem')} (--json lists them all)`)] : []),
  ].join('');
}

/** `8.0B params`, `494M params`, or '' when unknown. */
export function formatParameters(count: number | undefined): string {
  if (count === undefined) return '';
  if (count >= 1e9) return `${(count / 1e9).toFixed(1)}B`;
  if (count >= 1e6) return `${Math.round(count / 1e6)}M`;
  return count >= 1e3 ? `${Math.round(count / 1e3)}K` : String(count);
}

/** A description in a table cell: its first line, cut to a width a terminal shows. */
export function oneLine(text: string, width = 60): string {
  const line = text.split('\n')[0]!.trim();
  return line.length > width ? `${line.slice(0, width - 3)}...` : line;
}
