import { parseDigest, type Digest } from './digest.js';
import { UsageError } from '../../lib/errors.js';
import { checkModelName, checkRepoName, checkTagName } from './names.js';

/** `repo/model:tag`, `repo/model@blake3:<hex>` or `repo/model@<hex prefix>`; a missing tag means `latest`. */
export interface Reference {
  repo: string;
  model: string;
  tag?: string;
  digest?: Digest;
  /** The start of a version's digest (as `versions` prints it), resolved among the model's tagged versions. */
  digestPrefix?: string;
}

/** Shorter prefixes would often match several versions of a busy model. */
export const MIN_DIGEST_PREFIX = 7;
const DIGEST_PREFIX = /^(?:blake3:)?([0-9a-f]{7,64})$/;

/** What follows `@`: a whole digest, or a prefix of one of at least MIN_DIGEST_PREFIX hex digits. */
export function parseVersionDigest(text: string, where: string): Pick<Reference, 'digest' | 'digestPrefix'> {
  const hex = DIGEST_PREFIX.exec(text)?.[1];
  if (hex === undefined) {
    if (/^(?:blake3:)?[0-9a-f]{1,6}$/.test(text)) {
      throw new UsageError(`${where}: digest prefix "${text}" is too short`, { hint: `give at least ${MIN_DIGEST_PREFIX} hex digits, as \`aim model versions\` prints them (12)` });
    }
    return { digest: parseDigest(text, where) };
  }
  return hex.length === 64 ? { digest: parseDigest(`blake3:${hex}`, where) } : { digestPrefix: hex };
}

export const DEFAULT_TAG = 'latest';

export function parseReference(text: string): Reference {
  const slash = text.indexOf('/');
  if (slash <= 0) {
    throw new UsageError(`"${text}" is not a model reference`, {
      hint: 'write REPO/MODEL, REPO/MODEL:TAG or REPO/MODEL@DIGEST (blake3:HEX, or its first 12 hex), e.g. vision/resnet50:v1.0',
    });
  }
  const repo = checkRepoName(text.slice(0, slash));
  const rest = text.slice(slash + 1);
  const at = rest.indexOf('@');
  if (at >= 0) {
    // `model:tag@digest` is how Docker pins an image; here a version is named one way, and a tag that moved would
    // make the two disagree. Saying so beats "invalid model name "model:tag"".
    const tagged = rest.slice(0, at).indexOf(':');
    if (tagged >= 0) {
      throw new UsageError(`reference ${text} names both a tag (${rest.slice(tagged + 1, at)}) and a digest`, {
        hint: `give one: ${repo}/${rest.slice(0, at)} for the tag, or ${repo}/${rest.slice(0, tagged)}@${rest.slice(at + 1)} for the exact version`,
      });
    }
    return { repo, model: checkModelName(rest.slice(0, at)), ...parseVersionDigest(rest.slice(at + 1), `reference ${text}`) };
  }
  const colon = rest.indexOf(':');
  if (colon >= 0) {
    return { repo, model: checkModelName(rest.slice(0, colon)), tag: checkTagName(rest.slice(colon + 1)) };
  }
  return { repo, model: checkModelName(rest), tag: DEFAULT_TAG };
}

export function formatReference(reference: Reference): string {
  const base = `${reference.repo}/${reference.model}`;
  if (reference.digest) return `${base}@${reference.digest}`;
  return reference.digestPrefix ? `${base}@${reference.digestPrefix}` : `${base}:${reference.tag ?? DEFAULT_TAG}`;
}

/** `MODEL` or `MODEL:TAG` within a repository that is named apart (verify's target); no tag means every tag. */
export function parseModelSelector(text: string): { model: string; tag?: string } {
  const colon = text.indexOf(':');
  if (colon < 0) return { model: checkModelName(text) };
  return { model: checkModelName(text.slice(0, colon)), tag: checkTagName(text.slice(colon + 1)) };
}
