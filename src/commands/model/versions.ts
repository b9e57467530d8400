import { Command, Option } from 'clipanion';
import { shortDigest } from '../../core/format/digest.js';
import { checkModelName } from '../../core/format/names.js';
import { listVersions } from '../../core/store/model-listing.js';
import { trustedKeys } from '../../core/config/trust-policy.js';
import { signatureKeyIds } from '../../core/signing/signature-store.js';
import { AimCommand } from '../base.js';
import { NotFoundError } from '../../lib/errors.js';
import { listBundleVersions } from '../../core/bundle/bundle-target.js';
import { formatAge, formatBytes, table } from '../render/format.js';

export class ModelVersionsCommand extends AimCommand {
  static override paths = [['model', 'versions']];
  static override usage = Command.Usage({
    category: 'Models',
    description: 'list the versions (tags) of a model, oldest first',
    examples: [['List versions', '$0 model versions team-vision resnet50-finetuned']],
  });

  repo = Option.String({ name: 'REPO' });
  model = Option.String({ name: 'MODEL' });

  async run(): Promise<void> {
    const repository = await this.repository(this.repo);
    const listing = await listVersions(repository, checkModelName(this.model)).catch(async (error: unknown) => {
      // MODEL may name a bundle: its tags are listed, marked as such.
      const bundle = error instanceof NotFoundError ? await listBundleVersions(repository, this.model) : undefined;
      if (!bundle) throw error;
      return bundle;
    });
    if ('kind' in listing) {
      this.warnAbout(listing.problems);
      this.report(listing, () => `${this.model} is a bundle (aim inspect ${this.repo}/${this.model} lists its members)\n${table(['TAG', 'DIGEST', 'FILES', 'SIZE', 'CREATED'], listing.versions.map((t) => [t.tag, shortDigest(t.digest), String(t.files), formatBytes(t.size), formatAge(t.pushedAt)]))}`);
      return;
    }
    this.warnAbout(listing.problems);
    const names = new Map((await trustedKeys((await this.session()).config, this.repo)).map((key) => [key.keyId, key.name]));
    // Who left a signature, from the listing alone: `aim inspect` and `aim verify --signatures` check them.
    const versions: Array<(typeof listing.versions)[number] & { signatures: Array<{ keyId: string; name?: string }> }> = [];
    for (const version of listing.versions) {
      const signatures = (await signatureKeyIds(repository, version.digest, [...names.keys()])).map((keyId) => ({ keyId, name: names.get(keyId) }));
      versions.push({ ...version, signatures });
    }
    this.report({ ...listing, versions }, () =>
      table(
        ['TAG', 'DIGEST', 'FILES', 'SIZE', 'PUSHED', 'SIGNED BY (unchecked)'],
        versions.map((t) => [t.tag, shortDigest(t.digest), String(t.files), formatBytes(t.size), formatAge(t.pushedAt), t.signatures.map((s) => s.name ?? s.keyId.slice(0, 12)).join(', ') || '-']),
      ),
    );
  }
}
