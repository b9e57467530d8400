import { Option } from 'clipanion';
import type { Signer } from '../core/signing/bundle.js';
import type { VersionSelector } from '../core/store/resolve.js';
import type { PullResult } from '../core/transfer/pull.js';
import type { FileSelection } from '../core/transfer/subset.js';
import { UsageError } from '../lib/errors.js';
import type { AimCommand } from './base.js';

// The signing flags that `pull`, `model pull`, `run` and `push` share, and pull's --force. The code behind them is
// imported when a flag asks for it: `push` loads this file for --sign, and an unsigned push should not pay for
// loading pull and signing.

export function requireSignedOption() {
  return Option.Boolean('--require-signed', false, {
    description: "refuse a version no trusted key signed (as the repository's `trust: require: signed` does)",
  });
}

/** `--force` on pull: replace what DEST holds under the version's names even when aim did not put it there. */
export function replaceFilesOption() {
  return Option.Boolean('--force', false, { description: "replace files and folders in DEST at the version's paths that aim did not put there (or that changed since)" });
}

export function writeSignatureOption() {
  return Option.Boolean('--write-signature', false, { description: 'also write DEST/model.sig, which the model-signing tool verifies against DEST' });
}

/** `--sign --key FILE` on push: the signer, or undefined without --sign. */
export async function signerFromFlags(sign: boolean, keyPath: string | undefined): Promise<Signer | undefined> {
  if (!sign) return undefined;
  if (keyPath === undefined) throw new UsageError('--sign needs --key FILE', { hint: 'e.g. aim push repo/model:v1 ./dir --sign --key alice.key' });
  const [{ keySigner }, { readPrivateKey }] = await Promise.all([import('../core/signing/bundle.js'), import('../core/signing/keys.js')]);
  return keySigner(await readPrivateKey(keyPath));
}

export interface SignedPullFlags {
  requireSigned: boolean;
  writeSignature: boolean;
  concurrency?: number;
  /** Only some files (--include/--exclude, --quant); the signature still covers the whole version. */
  select?: FileSelection;
  /** Replace files in DEST that are not aim's (--force). */
  force?: boolean;
}

/** A pull under the user's trust policy for `repoName`, with DEST/model.sig written when asked. */
export async function pullUnderPolicy(command: AimCommand, repoName: string, selector: VersionSelector, dest: string, flags: SignedPullFlags): Promise<PullResult & { signature?: string }> {
  const [{ pull }, { trustedKeys, trustPolicyFor }] = await Promise.all([import('../core/transfer/pull.js'), import('../core/config/trust-policy.js')]);
  const session = await command.session();
  const repository = await session.repository(repoName);
  const trust = await trustPolicyFor(session.config, repoName, flags.requireSigned);
  const result = await pull(repository, selector, dest, { progress: command.progress(), concurrency: flags.concurrency, select: flags.select, trust, force: flags.force });
  if (!flags.writeSignature) return result;
  const { writeModelSignature } = await import('../core/signing/model-sig.js');
  const version = { model: result.model, tag: result.tag, digest: result.digest, manifest: await repository.getManifest(result.digest) };
  const signature = await writeModelSignature(repository, version, result.dest, trust?.keys ?? (await trustedKeys(session.config, repoName)));
  return { ...result, signature };
}
