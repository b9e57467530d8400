import { Command, Option } from 'clipanion';
import * as t from 'typanion';
import { trustedKeys } from '../core/config/trust-policy.js';
import { parseReference } from '../core/format/reference.js';
import type { ExportResult } from '../core/oci/export.js';
import { exportToFile, exportToFolder, exportToStream } from '../core/oci/export-file.js';
import { UsageError } from '../lib/errors.js';
import { AimCommand } from './base.js';
import { formatBytes, formatRate, formatSeconds } from './render/format.js';
import { terminalText } from '../lib/terminal-text.js';
import { isPath } from './path-argument.js';

export class ExportCommand extends AimCommand {
  static override paths = [['export']];
  static override usage = Command.Usage({
    category: 'Models',
    description: 'write a version as an OCI image layout tar holding a CNCF ModelPack artifact (for skopeo, oras, crane, registries)',
    details: `
      Each file becomes one uncompressed layer (\`application/vnd.cncf.model.weight.v1.raw\` for weights, the \`doc\`, \`code\` and \`weight.config\` types for the rest) named by \`org.cncf.model.filepath\`; the config carries the name, version, license and the GGUF facts. Every chunk is checked against its BLAKE3 as it is read. The same version always exports to the same bytes.

      A signed version's signatures travel with it: each as an OCI referrer of the model manifest (listed in index.json), and one (a key you trust first) as a \`model.sig\` layer. With referrers the layout holds more than one manifest: name the model for skopeo (\`oci-archive:FILE:TAG\`).
    `,
    examples: [
      ['Export a version to a tar', '$0 export team/qwen:q6 -o qwen.tar'],
      ['Copy it into a registry (by its tag)', 'skopeo copy oci-archive:qwen.tar:q6 docker://registry.example.com/models/qwen:q6'],
      ['Write a layout folder instead of a tar', '$0 export team/qwen:q6 -o qwen-oci --layout dir'],
      ['Stream it to another tool', '$0 export team/qwen:q6 -o - | ssh airgap aim import - local/qwen:q6'],
    ],
  });

  reference = Option.String({ name: 'REPO/MODEL[:TAG|@DIGEST]' });
  output = Option.String('-o,--output', { required: true, validator: isPath, description: 'the tar file to write, - for standard output, or a new folder with --layout dir' });
  layout = Option.String('--layout', 'tar', {
    description: 'tar (one file, what skopeo calls oci-archive:) or dir (an OCI layout folder, skopeo\'s oci:)',
    validator: t.isEnum(['tar', 'dir']),
  });

  async run(): Promise<void> {
    const ref = parseReference(this.reference);
    const repo = await this.repository(ref.repo);
    const toStdout = this.output === '-';
    if (toStdout && this.json) throw new UsageError('--json and -o - both want standard output', { hint: 'write the tar to a file with -o FILE.tar, or leave out --json' });
    if (toStdout && this.layout === 'dir') throw new UsageError('--layout dir writes a folder, not standard output', { hint: 'name a new folder with -o DIR' });
    // As `docker save` does: a tar of gigabytes drawn on a terminal is never wanted, and can leave it unusable.
    if (toStdout && (this.context.stdout as NodeJS.WriteStream).isTTY) {
      throw new UsageError('-o - writes the tar to standard output, which is a terminal here', { hint: 'redirect it (`> model.tar`, `| aim import - REPO/MODEL:TAG`), or name a file with -o FILE.tar' });
    }
    const options = { progress: this.progress(), trustedKeys: await trustedKeys((await this.session()).config, ref.repo) };
    const result = toStdout
      ? await exportToStream(repo, ref, this.context.stdout, options)
      : this.layout === 'dir'
        ? await exportToFolder(repo, ref, this.output, options)
        : await exportToFile(repo, ref, this.output, options);
    // The tar has standard output to itself: the summary goes to stderr.
    if (!toStdout) this.report({ ...result, output: this.output }, () => describeExport(result, this.output));
    else if (!this.quiet) this.context.stderr.write(`${terminalText(describeExport(result, 'standard output'))}\n`);
  }
}

function describeExport(result: ExportResult, output: string): string {
  return [
    `${result.repo}/${result.model}${result.tag ? `:${result.tag}` : ''} exported to ${output}`,
    `  version      ${result.digest}`,
    `  oci digest   ${result.manifestDigest}`,
    `  layers       ${result.layers.length} (${formatBytes(result.totalBytes)})`,
    ...(result.signatures.length > 0 ? [`  signatures   ${result.signatures.length}, as model.sig and as OCI referrers (keys ${result.signatures.map((s) => s.keyId.slice(0, 16)).join(', ')})`] : []),
    `  time         ${formatSeconds(result.seconds)} (${formatRate(result.totalBytes, result.seconds)})`,
  ].join('\n');
}
