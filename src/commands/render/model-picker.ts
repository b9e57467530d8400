import type { AvailableModel } from '../../core/install/find-model.js';
import { formatBytes } from './format.js';
import { compareText } from '../../lib/compare-text.js';

// The interactive picker of `aim install` with no name, on a terminal: search as you type, arrow keys, enter
// (@inquirer/prompts' search prompt, drawn on stderr so stdout stays the command's result).

/** Models whose repository, name or tags hold every word typed, best first: a name starting with the query first. */
export function filterModels(models: AvailableModel[], term: string | undefined): AvailableModel[] {
  const words = (term ?? '').toLowerCase().split(/\s+/).filter(Boolean);
  const text = (m: AvailableModel) => `${m.repo}/${m.model} ${m.tags.join(' ')} ${m.description ?? ''}`.toLowerCase();
  const found = models.filter((m) => words.every((w) => text(m).includes(w)));
  const first = words[0] ?? '';
  const rank = (m: AvailableModel) => (m.model.toLowerCase().startsWith(first) ? 0 : 1);
  return found.sort((a, b) => rank(a) - rank(b) || compareText(`${a.repo}/${a.model}`, `${b.repo}/${b.model}`));
}

/** The reference picked, or undefined when the user pressed Ctrl-C or Esc. */
export async function pickModel(models: AvailableModel[], io: { input: NodeJS.ReadableStream; output: NodeJS.WritableStream }): Promise<string | undefined> {
  // Loaded only here: the prompt library is not needed by any other command.
  const { search } = await import('@inquirer/prompts');
  try {
    return await search(
      {
        message: 'Install which model? (type to search, arrows to move, enter to install)',
        pageSize: 12,
        source: (term) =>
          filterModels(models, term).map((m) => ({
            value: `${m.repo}/${m.model}`,
            name: `${m.repo}/${m.model}`,
            description: `tags: ${m.tags.join(', ')}${m.size !== undefined ? `; ${formatBytes(m.size)}` : ''}`,
          })),
      },
      { input: io.input, output: io.output, clearPromptOnDone: false },
    );
  } catch (error) {
    if (error instanceof Error && (error.name === 'ExitPromptError' || error.name === 'AbortPromptError')) return undefined;
    throw error;
  }
}
