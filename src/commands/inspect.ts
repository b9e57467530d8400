import { Command, Option } from 'clipanion';
import { parseReference } from '../core/format/reference.js';
import { resolveVersion } from '../core/store/resolve.js';
import { AimCommand } from './base.js';
import { formatBytes, table } from './render/format.js';

export class InspectCommand extends AimCommand {
  static override paths = [['inspect']];
  static override usage = Command.Usage({
    category: 'Models',
    description: 'show a version: manifest digest, files, sizes, chunk counts, annotations',
    examples: [['Inspect a version', '$0 inspect team-vision/resnet50:v1.0'], ['Full manifest as JSON', '$0 inspect team-vision/resnet50:v1.0 --json']],
  });

  reference = Option.String({ name: 'REPO/MODEL[:TAG|@DIGEST]' });

  async run(): Promise<void> {
    const ref = parseReference(this.reference);
    const version = await resolveVersion(await this.repository(ref.repo), ref);
    const { manifest } = version;
    const files = manifest.files.map((f) => ({ path: f.path, size: f.size, mode: f.mode, digest: f.digest, chunks: f.chunks.length }));
    const totalBytes = files.reduce((sum, f) => sum + f.size, 0);
    this.report({ repo: ref.repo, model: version.model, tag: version.tag ?? null, digest: version.digest, totalBytes, files, annotations: manifest.annotations, manifest }, () =>
      [
        `${ref.repo}/${version.model}${version.tag ? `:${version.tag}` : ''}`,
        `digest  ${version.digest}`,
        `size    ${formatBytes(totalBytes)} in ${files.length} files`,
        ...Object.entries(manifest.annotations).map(([key, value]) => `${key}: ${value}`),
        '',
        table(['PATH', 'SIZE', 'CHUNKS', 'DIGEST'], files.map((f) => [f.path, formatBytes(f.size), String(f.chunks), f.digest])),
      ].join('\n'),
    );
  }
}
