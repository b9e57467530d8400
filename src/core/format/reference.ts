import { parseDigest, type Digest } from './digest.js';
import { UsageError } from '../../lib/errors.js';
import { checkModelName, checkRepoName, checkTagName } from './names.js';

/** `repo/model:tag` or `repo/model@blake3:<hex>`; a missing tag means `latest`. */
export interface Reference {
  repo: string;
  model: string;
  tag?: string;
  digest?: Digest;
}

export const DEFAULT_TAG = 'latest';

export function parseReference(text: string): Reference {
  const slash = text.indexOf('/');
  if (slash <= 0) {
    throw new UsageError(`"${text}" is not a model reference`, {
      hint: 'write REPO/MODEL, REPO/MODEL:TAG or REPO/MODEL@blake3:HEX, e.g. vision/resnet50:v1.0',
    });
  }
  const repo = checkRepoName(text.slice(0, slash));
  const rest = text.slice(slash + 1);
  const at = rest.indexOf('@');
  if (at >= 0) {
    return { repo, model: checkModelName(rest.slice(0, at)), digest: parseDigest(rest.slice(at + 1), `reference ${text}`) };
  }
  const colon = rest.indexOf(':');
  if (colon >= 0) {
    return { repo, model: checkModelName(rest.slice(0, colon)), tag: checkTagName(rest.slice(colon + 1)) };
  }
  return { repo, model: checkModelName(rest), tag: DEFAULT_TAG };
}

export function formatReference(reference: Reference): string {
  const base = `${reference.repo}/${reference.model}`;
  return reference.digest ? `${base}@${reference.digest}` : `${base}:${reference.tag ?? DEFAULT_TAG}`;
}

/** `MODEL` or `MODEL:TAG` within a repository that is named apart (verify's target); no tag means every tag. */
export function parseModelSelector(text: string): { model: string; tag?: string } {
  const colon = text.indexOf(':');
  if (colon < 0) return { model: checkModelName(text) };
  return { model: checkModelName(text.slice(0, colon)), tag: checkTagName(text.slice(colon + 1)) };
}
