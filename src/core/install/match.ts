import { NotFoundError, UsageError } from '../../lib/errors.js';
import { checkModelName, checkRepoName, checkTagName } from '../format/names.js';
import { parseVersionDigest } from '../format/reference.js';
import { referenceOf, type InstallRecord } from './records.js';

// Which installed models `rm NAME` and `update NAME` mean: MODEL, MODEL:TAG, REPO/MODEL (every tag installed),
// REPO/MODEL:TAG or REPO/MODEL@DIGEST. A bare model name installed from two repositories is ambiguous.

interface Pattern {
  repo?: string;
  model: string;
  tag?: string;
  /** `blake3:<hex>`, whole or the start of one (the 12 hex `aim installed` and `aim model versions` print). */
  digest?: string;
}

function parsePattern(text: string): Pattern {
  const slash = text.indexOf('/');
  const repo = slash > 0 ? checkRepoName(text.slice(0, slash)) : undefined;
  const rest = text.slice(slash + 1);
  const at = rest.indexOf('@');
  if (at >= 0) {
    const { digest, digestPrefix } = parseVersionDigest(rest.slice(at + 1), text);
    return { repo, model: checkModelName(rest.slice(0, at)), digest: digest ?? `blake3:${digestPrefix!}` };
  }
  const colon = rest.indexOf(':');
  if (colon >= 0) return { repo, model: checkModelName(rest.slice(0, colon)), tag: checkTagName(rest.slice(colon + 1)) };
  return { repo, model: checkModelName(rest) };
}

export function matchInstalled(records: InstallRecord[], text: string): InstallRecord[] {
  const p = parsePattern(text);
  const matched = records.filter(
    (r) => r.model === p.model && (!p.repo || r.repo === p.repo) && (!p.tag || r.tag === p.tag) && (!p.digest || r.digest.startsWith(p.digest)),
  );
  if (matched.length === 0) throw new NotFoundError(`${text} is not installed`, { hint: 'see what is with `aim installed`' });
  const digests = [...new Set(matched.map((r) => r.digest))];
  if (p.digest && digests.length > 1) {
    throw new UsageError(`"${text}" starts ${digests.length} installed digests: ${digests.map((d) => d.slice(7, 19)).join(', ')}`, { hint: 'give more of the digest' });
  }
  const repos = [...new Set(matched.map((r) => r.repo))];
  if (repos.length > 1) {
    throw new UsageError(`"${text}" is installed from ${repos.length} repositories: ${matched.map(referenceOf).join(', ')}`, {
      hint: `name one, e.g. ${repos[0]}/${text}`,
    });
  }
  return matched;
}
