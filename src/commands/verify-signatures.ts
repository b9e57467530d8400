import { trustedKeys, trustPolicyFor } from '../core/config/trust-policy.js';
import { checkSignatures, signaturesSound } from '../core/signing/check-signatures.js';
import { describeSigner } from '../core/signing/policy.js';
import { shortDigest } from '../core/format/digest.js';
import { IntegrityError } from '../lib/errors.js';
import type { AimCommand } from './base.js';

/**
 * `aim verify REPO [MODEL[:TAG]] --signatures`: who signed each version, every signature checked. Fails (exit 4)
 * on a damaged or forged signature, or, when the repository's policy requires signatures, on a version that no
 * trusted key signed.
 */
export async function verifySignatures(command: AimCommand, repoName: string, scope: { model?: string; tag?: string }): Promise<void> {
  const session = await command.session();
  const keys = await trustedKeys(session.config, repoName);
  const required = (await trustPolicyFor(session.config, repoName)) !== undefined;
  const result = await checkSignatures(await session.repository(repoName), keys, scope);
  command.warnAbout(result.problems);
  const failing = result.versions.filter((version) => !signaturesSound(version) || (required && !version.signers.some((s) => s.status === 'valid')));
  command.report({ repo: repoName, required, ...result, ok: failing.length === 0 }, () =>
    result.versions
      .map((version) => {
        const head = `${version.model}:${version.tag} ${shortDigest(version.digest)}`;
        return version.signers.length === 0 ? `${head}  unsigned` : [head, ...version.signers.map((s) => `  ${describeSigner(s)}`)].join('\n');
      })
      .join('\n'),
  );
  if (failing.length > 0) {
    throw new IntegrityError(`${failing.length} versions of ${repoName} have bad signatures${required ? ' or none by a trusted key' : ''}: ${failing.map((v) => `${v.model}:${v.tag}`).slice(0, 5).join(', ')}`, {
      hint: 'sign them again with a trusted key (`aim sign`), or find out who replaced them',
    });
  }
}
