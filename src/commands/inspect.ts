import { Command, Option } from 'clipanion';
import { inspectVersion } from '../core/install/inspect-version.js';
import { parseReference } from '../core/format/reference.js';
import { orBundle } from '../core/bundle/bundle-target.js';
import { inspectBundle } from '../core/bundle/bundle-actions.js';
import { describeBundleInspection } from './bundle-render.js';
import { aimHome } from '../settings/home.js';
import { trustedKeys } from '../core/config/trust-policy.js';
import { describeSigner, signersOf } from '../core/signing/policy.js';
import { AimCommand } from './base.js';
import { formatBytes, table } from './render/format.js';
import { terminalLine } from '../lib/terminal-text.js';
import { counted } from '../lib/plural.js';

export class InspectCommand extends AimCommand {
  static override paths = [['inspect']];
  static override usage = Command.Usage({
    category: 'Models',
    description: 'show a version: manifest digest, files, sizes, chunk counts, annotations, who signed it, memory each GGUF variant needs',
    details: 'An installed version (aim install) is read from AIM_HOME, so this works without the repository.',
    examples: [['Inspect a version', '$0 inspect team-vision/resnet50:v1.0'], ['List the members of a bundle', '$0 inspect team-llm/rag-kit:v1'], ['Full manifest as JSON', '$0 inspect team-vision/resnet50:v1.0 --json']],
  });

  reference = Option.String({ name: 'REPO/MODEL[:TAG|@DIGEST]' });

  async run(): Promise<void> {
    const ref = parseReference(this.reference);
    const inspectOne = () => this.inspectVersion();
    await orBundle((r) => this.repository(r.repo), ref, inspectOne, async (found, repo) => {
      const result = await inspectBundle(repo, found);
      this.report(result, () => describeBundleInspection(result));
    });
  }

  private async inspectVersion(): Promise<void> {
    const version = await inspectVersion(await this.session(), this.reference, aimHome());
    const { manifest, variants } = version;
    const files = manifest.files.map((f) => ({ path: f.path, size: f.size, mode: f.mode, digest: f.digest, chunks: f.chunks.length }));
    const totalBytes = files.reduce((sum, f) => sum + f.size, 0);
    // Who signed it, when the repository can be read (an installed version is inspected without it).
    const keys = await trustedKeys((await this.session()).config, version.repo).catch(() => []);
    const signatures = await this.repository(version.repo)
      .then((repository) => signersOf(repository, { model: version.model, tag: version.tag, digest: version.digest, manifest }, keys))
      .catch(() => undefined);
    const json = { repo: version.repo, model: version.model, tag: version.tag ?? null, digest: version.digest, source: version.source, totalBytes, files, annotations: manifest.annotations, signatures, variants, manifest };
    this.report(json, () =>
      [
        `${version.repo}/${version.model}${version.tag ? `:${version.tag}` : ''}${version.source === 'installed' ? '   (installed copy; `aim update` brings the newest)' : ''}`,
        `digest  ${version.digest}`,
        `size    ${formatBytes(totalBytes)} in ${counted(files.length, 'file')}`,
        ...(signatures === undefined ? ['signed  unknown (repository not reachable)'] : signatures.length === 0 ? ['signed  no'] : signatures.map((signer) => `signed  ${describeSigner(signer)}`)),
        // One line each: a line break in a pushed annotation would print a line of its own, such as a forged `signed`.
        ...Object.entries(manifest.annotations).map(([key, value]) => terminalLine(`${key}: ${value}`)),
        '',
        table(['PATH', 'SIZE', 'CHUNKS', 'DIGEST'], files.map((f) => [f.path, formatBytes(f.size), String(f.chunks), f.digest])),
        ...(variants.length
          ? [
              '',
              table(
                ['QUANT', 'FILE SIZE', 'KV CACHE', 'MEMORY NEED'],
                variants.map((v) => [v.quant, formatBytes(v.bytes), `${formatBytes(v.kvCacheBytes)}${v.exact ? '' : ' (rough)'}`, formatBytes(v.memoryBytes)]),
              ),
              'memory need: weights + KV cache for the default 2048-token context + ~150 MiB runtime',
            ]
          : []),
      ].join('\n'),
    );
  }
}
