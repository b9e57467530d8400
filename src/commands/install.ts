import { Command, Option } from 'clipanion';
import { availableModels, resolveInstallTarget } from '../core/install/find-model.js';
import { orBundle } from '../core/bundle/bundle-target.js';
import { installBundle } from '../core/bundle/install-bundle.js';
import { describeBundleInstall } from './bundle-render.js';
import { install, type InstallResult } from '../core/install/install.js';
import { UsageError } from '../lib/errors.js';
import { aimHome } from '../settings/home.js';
import { formatBytes } from './render/format.js';
import { pickModel } from './render/model-picker.js';
import { requireSignedOption } from './signing-options.js';
import { describeFit, SelectingCommand } from './subset-options.js';

export class InstallCommand extends SelectingCommand {
  static override paths = [['install']];
  static override usage = Command.Usage({
    category: 'Models',
    description: 'install a model into AIM_HOME, found by name across the configured repositories',
    details: `
      NAME is a model name (searched in every repository in model_repos.yaml; name the repository when two hold
      it), a friendly name from model_repos.yaml's models:, or REPO/MODEL[:TAG|@DIGEST]. The version is pulled
      where \`aim run\` looks, so running it needs no download, and the tag is recorded so \`aim update\` can follow it.
      With no NAME on a terminal, a picker lists every model: type to search, arrows to move, enter to install.
    `,
    examples: [
      ['Install a model by name', '$0 install qwen2.5-7b'],
      ['Install a tag from one repository', '$0 install team-llm/qwen2.5-7b:v2'],
      ['Install only the quantization that fits this machine', '$0 install qwen2.5-7b --quant auto'],
      ['Install every member of a bundle (aim update follows its tag)', '$0 install team-llm/rag-kit:v1'],
      ['Pick from a list', '$0 install'],
    ],
  });

  target = Option.String({ name: 'NAME[:TAG]', required: false });
  requireSigned = requireSignedOption();

  async run(): Promise<number | void> {
    const session = await this.session();
    let target = this.target;
    if (target === undefined) {
      const stdin = this.context.stdin as NodeJS.ReadStream;
      const stderr = this.context.stderr as NodeJS.WriteStream;
      if (!stdin.isTTY || !stderr.isTTY) {
        throw new UsageError('aim install needs a model name when not on a terminal', { hint: 'e.g. `aim install REPO/MODEL:TAG`; see what there is with `aim model list REPO`' });
      }
      const { models, problems } = await availableModels(session);
      this.warnAbout(problems);
      if (models.length === 0) throw new UsageError('no models in any configured repository', { hint: 'push one with `aim push REPO/MODEL:TAG DIR`' });
      target = await pickModel(models, { input: stdin, output: stderr });
      if (target === undefined) return 130;
    }
    const options = { home: aimHome(), select: await this.selection(), progress: this.progress(), requireSigned: this.requireSigned };
    const name = target;
    const installOne = async () => {
      const result = await install(session, name, options);
      this.warnAbout(result.problems);
      this.report(result, () => describeInstall(result));
    };
    const ref = async () => (await resolveInstallTarget(session, name)).ref;
    await orBundle((r) => session.repository(r.repo), ref, installOne, async (found, _repo, r) => {
      const result = await installBundle(session, r.repo, found, options);
      this.report(result, () => describeBundleInstall(result));
    });
  }
}

function describeInstall(result: InstallResult): string {
  const { pull, previous, record } = result;
  const subset = pull.subset;
  return [
    `installed ${result.reference} (${record.digest.slice(7, 19)})`,
    `  files        ${pull.files} (${formatBytes(pull.totalBytes)})${subset ? `, a subset of ${subset.versionFiles} (${formatBytes(subset.versionBytes)})${subset.quant ? `: ${subset.quant}` : ''}` : ''}`,
    `  transferred  ${formatBytes(pull.bytesTransferred)}, ${formatBytes(pull.bytesSkipped)} already here`,
    ...(pull.fit ? [`  quant auto   ${describeFit(pull.fit)}`] : []),
    ...(previous ? [`  previous     ${previous.digest.slice(7, 19)} ${previous.removed ? `removed (${formatBytes(previous.freedBytes)} freed)` : `kept: ${previous.keptFor}`}`] : []),
    `  run it       aim run ${result.reference}`,
  ].join('\n');
}
