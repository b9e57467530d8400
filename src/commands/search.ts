import { Command, Option } from 'clipanion';
import { searchCatalogs, type SearchResult } from '../core/catalog/search.js';
import { parseByteSize } from '../core/format/byte-size.js';
import { AimCommand } from './base.js';
import { catalogWarnings, formatParameters, oneLine } from './render/catalog.js';
import { formatBytes, table } from './render/format.js';

export class SearchCommand extends AimCommand {
  static override paths = [['search']];
  static override usage = Command.Usage({
    category: 'Catalog',
    description: 'search the models of every configured repository',
    details: `
      Matches the query against model names, descriptions, annotations, quantizations and architectures, best
      first: the exact name, then names starting with it, then a word of a name, then quantization or
      architecture, then the description, then other annotations. Every word of the query must match. A
      repository that cannot be reached is named on stderr and the others are still searched.
    `,
    examples: [
      ['Find Qwen models', '$0 search qwen'],
      ['Every word must match', '$0 search qwen instruct'],
      ['Llama models in Q4_K_M under 5 GiB', '$0 search instruct --arch llama --quant Q4_K_M --max-size 5GiB'],
      ['One repository, as JSON', '$0 search embed --repo team-nlp --json'],
    ],
  });

  words = Option.Rest({ name: 'QUERY', required: 1 });
  arch = Option.String('--arch', { description: 'only this GGUF architecture (llama, qwen2, ...)' });
  quant = Option.String('--quant', { description: 'only models offering this quantization (Q4_K_M, Q8_0, ...)' });
  maxSize = Option.String('--max-size', { description: 'only models whose newest version is at most this big (e.g. 8GiB)' });
  repos = Option.Array('--repo', [], { description: 'search only this repository (repeatable; default: all)' });

  async run(): Promise<void> {
    const maxSize = this.maxSize === undefined ? undefined : parseByteSize(this.maxSize, '--max-size');
    const result = await searchCatalogs(await this.session(), this.words.join(' '), { arch: this.arch, quant: this.quant, maxSize, repos: this.repos });
    this.context.stderr.write(catalogWarnings(result));
    this.report(searchJson(result), () => describeSearch(result));
  }
}

function searchJson(result: SearchResult) {
  return { ...result, hits: result.hits.map(({ repo, reference, score, match, entry }) => ({ repo, reference, score, match, ...entry })) };
}

function describeSearch(result: SearchResult): string {
  if (result.hits.length === 0) return `no model matches "${result.query}" (try a shorter query, or \`aim list\`)`;
  return table(
    ['REFERENCE', 'SIZE', 'QUANT', 'PARAMS', 'DESCRIPTION'],
    result.hits.map(({ reference, entry }) => [
      reference,
      formatBytes(entry.latest.size),
      entry.quantizations.join(',') || '-',
      formatParameters(entry.parameters) || '-',
      oneLine(entry.description ?? ''),
    ]),
  );
}
