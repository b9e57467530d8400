import { Command, Option } from 'clipanion';
import { makeBundle, type BundleResult } from '../core/bundle/make-bundle.js';
import { parseReference } from '../core/format/reference.js';
import { formatWarning } from './render/errors.js';
import { AimCommand } from './base.js';
import { formatBytes, table } from './render/format.js';
import { parseAnnotations } from './transfer-options.js';

export class BundleCommand extends AimCommand {
  static override paths = [['bundle']];
  static override usage = Command.Usage({
    category: 'Models',
    description: 'name several model versions of one repository together, by digest, under a tag',
    details: `
      A bundle is immutable, like a version: each MODEL[:TAG|@DIGEST] is resolved to its digest now, so moving a
      member's tag later does not change the bundle. \`pull\`, \`install\`, \`inspect\`, \`verify\` and \`run\` take
      REPO/NAME[:TAG] and act on every member. Members come from the bundle's own repository (\`aim copy\` others
      there first); a bundle cannot hold another bundle.
    `,
    examples: [
      ['Bundle a chat model and an embedder', '$0 bundle team-llm/rag-kit:v1 qwen2.5-7b:v2 bge-small:v1'],
      ['Pin a member by digest', '$0 bundle team-llm/rag-kit:v2 qwen2.5-7b@3f2a9c1d04be bge-small'],
      ['Move an existing bundle tag', '$0 bundle team-llm/rag-kit:v1 qwen2.5-7b:v3 bge-small:v1 --force'],
    ],
  });

  target = Option.String({ name: 'REPO/NAME:TAG' });
  members = Option.Rest({ name: 'MODEL[:TAG|@DIGEST]' });
  force = Option.Boolean('--force', false, { description: 'move the tag when it already names another bundle' });
  description = Option.String('--description', { description: 'annotation: what the bundle is for (shown by search and list)' });
  annotations = Option.Array('--annotation', [], { description: 'annotation KEY=VALUE (repeatable)' });

  async run(): Promise<void> {
    const target = parseReference(this.target);
    const repository = await this.repository(target.repo);
    const note = (message: string) => this.context.stderr.write(formatWarning(message));
    const annotations = parseAnnotations(this.annotations, { description: this.description });
    const result = await makeBundle(repository, target, this.members, { force: this.force, annotations, note });
    this.report(result, () => describeBundle(result));
  }
}

function describeBundle(result: BundleResult): string {
  const verb = result.outcome === 'unchanged' ? 'unchanged (the same members already)' : result.outcome === 'moved' ? 'moved' : 'created';
  return [
    `bundle ${result.repo}/${result.name}:${result.tag} ${verb}`,
    `  digest   ${result.digest}`,
    `  size     ${formatBytes(result.size)} in ${result.files} files`,
    '',
    table(['MEMBER', 'TAG', 'DIGEST', 'SIZE'], result.members.map((m) => [m.model, m.tag ?? '-', m.digest.slice(7, 19), formatBytes(m.size)])),
  ].join('\n');
}
