import { NotFoundError, UsageError } from '../../lib/errors.js';
import { parseDigest } from '../format/digest.js';
import { checkModelName, checkRepoName, checkTagName } from '../format/names.js';
import { referenceOf, type InstallRecord } from './records.js';

// Which installed models `rm NAME` and `update NAME` mean: MODEL, MODEL:TAG, REPO/MODEL (every tag installed),
// REPO/MODEL:TAG or REPO/MODEL@DIGEST. A bare model name installed from two repositories is ambiguous.

interface Pattern {
  repo?: string;
  model: string;
  tag?: string;
  digest?: string;
}

function parsePattern(text: string): Pattern {
  const slash = text.indexOf('/');
  const repo = slash > 0 ? checkRepoName(text.slice(0, slash)) : undefined;
  const rest = text.slice(slash + 1);
  const at = rest.indexOf('@');
  if (at >= 0) return { repo, model: checkModelName(rest.slice(0, at)), digest: parseDigest(rest.slice(at + 1), text) };
  const colon = rest.indexOf(':');
  if (colon >= 0) return { repo, model: checkModelName(rest.slice(0, colon)), tag: checkTagName(rest.slice(colon + 1)) };
  return { repo, model: checkModelName(rest) };
}

export function matchInstalled(records: InstallRecord[], text: string): InstallRecord[] {
  const p = parsePattern(text);
  const matched = records.filter(
    (r) => r.model === p.model && (!p.repo || r.repo === p.repo) && (!p.tag || r.tag === p.tag) && (!p.digest || r.digest === p.digest),
  );
  if (matched.length === 0) throw new NotFoundError(`${text} is not installed`, { hint: 'see what is with `aim installed`' });
  const repos = [...new Set(matched.map((r) => r.repo))];
  if (repos.length > 1) {
    throw new UsageError(`"${text}" is installed from ${repos.length} repositories: ${matched.map(referenceOf).join(', ')}`, {
      hint: `name one, e.g. ${repos[0]}/${text}`,
    });
  }
  return matched;
}
