import { join } from 'node:path';
import { writeAtomic } from '../../lib/atomic-write.js';
import { IntegrityError, NotFoundError } from '../../lib/errors.js';
import { getBounded } from '../store/bounded-read.js';
import type { Repository } from '../store/repository.js';
import type { ResolvedVersion } from '../store/resolve.js';
import { parseSignature, SIGNATURE_FORMAT, signatureValid } from './bundle.js';
import { resourcesMismatch } from './statement.js';
import { signersOf, type TrustedKey } from './policy.js';

/**
 * Writes DIR/model.sig: a stored signature of `version`, byte for byte, that the reference model-signing tool can
 * check against the pulled folder. A trusted key's valid signature is preferred; without trusted keys, any whose
 * files match the version (the reader then checks it with the signer's public key, as model_signing does).
 */
export async function writeModelSignature(repo: Repository, version: ResolvedVersion, dir: string, keys: readonly TrustedKey[]): Promise<string> {
  const reports = await signersOf(repo, version, keys);
  const chosen = reports.find((report) => report.status === 'valid') ?? reports.find((report) => report.status === 'untrusted');
  if (!chosen) {
    throw new NotFoundError(`no signature of ${repo.name}/${version.model} matches its files`, {
      hint: `sign it first: aim sign ${repo.name}/${version.model}@${version.digest} --key KEY`,
    });
  }
  const where = `${chosen.key} in ${repo.location}`;
  const bytes = await getBounded(repo.backend, chosen.key, SIGNATURE_FORMAT, where);
  // Read again to copy it byte for byte: what is written must still be the signature just judged.
  const reread = parseSignature(bytes, where);
  const trusted = keys.find((key) => key.keyId === reread.keyId);
  const stillGood = reread.keyId === chosen.keyId && resourcesMismatch(reread.resources, version.manifest) === undefined && (!trusted || signatureValid(reread, trusted.key));
  if (!stillGood) {
    throw new IntegrityError(`${where} changed while it was read`, { hint: 'someone is writing signatures of this version: pull again' });
  }
  const path = join(dir, 'model.sig');
  await writeAtomic(path, bytes);
  return path;
}
