import { Command, Option } from 'clipanion';
import { readRequirements, writeRequirements } from '../../core/catalog/repo-requirements.js';
import { parseByteSize } from '../../core/format/byte-size.js';
import type { Requirements } from '../../core/format/schemas/requirements.js';
import { AimCommand } from '../base.js';

export class RepoRequireCommand extends AimCommand {
  static override paths = [['repo', 'require']];
  static override usage = Command.Usage({
    category: 'Repositories',
    description: 'set what a push to a repository must bring (its contribution rules)',
    details: `
      The rules are kept in the repository's aim-repo.json, so they bind everyone who pushes there. A push that
      misses any is refused before anything is uploaded, listing every missing item. The flags given replace the
      rules in force; with no flag the rules are printed; --none removes them.
    `,
    examples: [
      ['Require a description, a license and a valid GGUF of at most 20 GiB', '$0 repo require community --description --license --gguf-valid --max-size 20GiB'],
      ['Require a "task" annotation too', '$0 repo require community --description --annotation task'],
      ['Show the rules', '$0 repo require community'],
      ['Remove them', '$0 repo require community --none'],
    ],
  });

  repo = Option.String({ name: 'REPO' });
  description = Option.Boolean('--description', false, { description: 'a --description' });
  license = Option.Boolean('--license', false, { description: 'a --license' });
  source = Option.Boolean('--source', false, { description: 'a --source' });
  ggufValid = Option.Boolean('--gguf-valid', false, { description: 'at least one GGUF file, every one with a valid, whole header' });
  maxSize = Option.String('--max-size', { description: 'the version at most this big, e.g. 20GiB' });
  annotations = Option.Array('--annotation', [], { description: 'an annotation of this key (repeatable)' });
  none = Option.Boolean('--none', false, { description: 'remove every rule' });

  async run(): Promise<void> {
    const repo = await this.repository(this.repo);
    const requires = this.requested();
    const rules = requires || this.none ? await writeRequirements(repo, requires) : await readRequirements(repo);
    this.report({ repo: this.repo, requires: rules ?? null }, () => describeRules(this.repo, rules));
  }

  private requested(): Requirements | undefined {
    if (this.maxSize !== undefined) parseByteSize(this.maxSize, '--max-size');
    const rules: Requirements = {
      ...(this.description && { description: true }),
      ...(this.license && { license: true }),
      ...(this.source && { source: true }),
      ...(this.ggufValid && { ggufValid: true }),
      ...(this.maxSize !== undefined && { maxSize: this.maxSize }),
      ...(this.annotations.length > 0 && { annotations: this.annotations }),
    };
    return Object.keys(rules).length > 0 ? rules : undefined;
  }
}

function describeRules(repo: string, rules: Requirements | undefined): string {
  if (!rules || Object.keys(rules).length === 0) return `${repo} takes any push (set rules with \`aim repo require ${repo} --description --license\`)`;
  const items = [
    ...(['description', 'license', 'source'] as const).filter((key) => rules[key]),
    ...(rules.ggufValid ? ['a valid GGUF'] : []),
    ...(rules.maxSize !== undefined ? [`at most ${rules.maxSize}`] : []),
    ...(rules.annotations ?? []).map((key) => `annotation ${key}`),
  ];
  return `a push to ${repo} must bring: ${items.join(', ')}`;
}
