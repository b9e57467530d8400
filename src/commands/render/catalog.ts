import type { CatalogView } from '../../core/catalog/browse.js';
import { counted } from '../../lib/plural.js';
import { formatWarning, formatWarnings } from './errors.js';

// What `aim list` and `aim search` print on stderr besides their table: repositories that could not be reached
// and catalog files that were stepped over.

export function catalogWarnings(view: Pick<CatalogView, 'unreachable' | 'problems'>): string {
  return [
    ...view.unreachable.map(({ repo, message }) => formatWarning(`repository ${repo} could not be read, its models are not shown: ${message}`)),
    formatWarnings(view.problems.map(({ repo, key, message }) => `${repo}: skipped ${key}: ${message}`), (more) => `skipped ${counted(more, 'more catalog problem')} (--json lists them all)`),
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
