import { Command, Option } from 'clipanion';
import { IntegrityError, StorageError } from '../lib/errors.js';
import { updateInstalled, type ModelUpdate } from '../core/install/update.js';
import { updateBundles } from '../core/bundle/install-bundle.js';
import { aimHome } from '../settings/home.js';
import { formatBytes } from './render/format.js';
import { AimCommand } from './base.js';
import { formatWarning } from './render/errors.js';
import { requireSignedOption } from './signing-options.js';

export class UpdateCommand extends AimCommand {
  static override paths = [['update']];
  static override usage = Command.Usage({
    category: 'Models',
    description: 'bring installed models to the version their tag names now, moving only the chunks that changed',
    details: `
      Every installed model that follows a tag (or only NAME) is checked against its repository. A newer version is
      pulled beside the installed one, reading the chunks they share from disk, with the same subset (--quant,
      --include, --exclude) as installed; the old version's folder is removed once the new one is complete, unless a
      deployment still serves from it. Models installed by digest are pinned and left alone.
    `,
    examples: [
      ['Update everything installed', '$0 update'],
      ['Update one model', '$0 update qwen2.5-7b'],
      ['As JSON (bytes moved per model)', '$0 update --json'],
    ],
  });

  target = Option.String({ name: 'NAME', required: false });
  requireSigned = requireSignedOption();

  async run(): Promise<void> {
    const session = await this.session();
    // Installed bundles first (NAME may name one), then models; a bundle's members are pinned installs.
    const bundles = await updateBundles(session, aimHome(), this.target, this.progress(), this.requireSigned);
    const onlyBundles = this.target !== undefined && bundles.updates.length > 0;
    const result = onlyBundles ? { updates: [], bytesTransferred: 0, problems: [] } : await updateInstalled(session, aimHome(), this.target, this.progress(), this.requireSigned);
    result.updates.unshift(...bundles.updates);
    result.bytesTransferred += bundles.updates.reduce((sum, u) => sum + u.bytesTransferred, 0);
    result.problems.push(...bundles.problems);
    for (const problem of result.problems) this.context.stderr.write(formatWarning(`skipped ${problem}`));
    this.report(result, () =>
      result.updates.length === 0 ? 'nothing installed (install a model with `aim install NAME`)' : [...result.updates.map(describeUpdate), `moved ${formatBytes(result.bytesTransferred)} in all`].join('\n'),
    );
    const failed = result.updates.filter((u) => u.status === 'failed');
    const refused = failed.filter((u) => u.refused);
    if (refused.length > 0) {
      throw new IntegrityError(`${refused.length} of ${result.updates.length} installed models were not updated: their new version failed a signature or integrity check (${refused.map((u) => u.reference).join(', ')})`, {
        hint: 'see the reasons above; the installed versions are unchanged and still run',
      });
    }
    if (failed.length > 0) {
      throw new StorageError(`${failed.length} of ${result.updates.length} installed models could not be updated: ${failed.map((u) => u.reference).join(', ')}`, {
        hint: 'see the reasons above; the installed versions are unchanged',
      });
    }
    if (result.problems.length > 0) throw new IntegrityError(`${result.problems.length} install records could not be read`, { hint: 'delete them and install those models again' });
  }
}

function describeUpdate(u: ModelUpdate): string {
  if (u.status === 'up to date') return `${u.reference}: up to date`;
  if (u.status === 'pinned') return `${u.reference}: pinned to a digest, not updated`;
  if (u.status === 'failed') return `${u.reference}: not updated: ${u.error}`;
  if (!u.previous) return `${u.reference}: updated ${u.from.slice(7, 19)} -> ${u.to!.slice(7, 19)}, moved ${formatBytes(u.bytesTransferred)} (${formatBytes(u.bytesSkipped)} reused)`;
  const old = u.previous?.removed ? `old version removed (${formatBytes(u.previous.freedBytes)} freed)` : `old version kept: ${u.previous?.keptFor}`;
  return `${u.reference}: updated ${u.from.slice(7, 19)} -> ${u.to!.slice(7, 19)}, moved ${formatBytes(u.bytesTransferred)} (${formatBytes(u.bytesSkipped)} reused); ${old}`;
}
