import { basename } from 'node:path';
import { AimError, UsageError } from '../../lib/errors.js';
import { byteSizeOf } from '../format/byte-size.js';
import type { Requirements } from '../format/schemas/requirements.js';

// A repository's contribution rules (aim-repo.json's `requires`), checked before a push uploads anything. Every
// missing item is collected first and reported together, so a contributor fixes them all in one go.

export interface Contribution {
  annotations: Record<string, string>;
  files: Array<{ path: string; absolute: string; size: number }>;
}

const FLAG_OF: Record<string, string> = { description: '--description TEXT', license: '--license SPDX-ID', source: '--source URL' };

function missingAnnotations(requires: Requirements, annotations: Record<string, string>): string[] {
  const wanted = [
    ...(['description', 'license', 'source'] as const).filter((key) => requires[key]),
    ...(requires.annotations ?? []),
  ];
  return [...new Set(wanted)]
    .filter((key) => !annotations[key]?.trim())
    .map((key) => (FLAG_OF[key] ? `${key} (${FLAG_OF[key]})` : `annotation ${key} (--annotation ${key}=VALUE)`));
}

/** The first file of every GGUF model in the version whose header does not read; none at all is a problem too. */
async function invalidGgufs(files: Contribution['files']): Promise<string[]> {
  const { isFirstGgufFile } = await import('../../serving/gguf-shard-name.js');
  const ggufs = files.filter((file) => isFirstGgufFile(basename(file.path)));
  if (ggufs.length === 0) return ['a GGUF file (the repository takes GGUF models only)'];
  const { readGgufHeader } = await import('../format/gguf.js');
  const problems: string[] = [];
  for (const file of ggufs) {
    await readGgufHeader(file.absolute).catch((error: unknown) => {
      if (!(error instanceof AimError)) throw error;
      problems.push(`a valid GGUF header in ${file.path} (${error.message.replace(`${file.absolute} `, '')})`);
    });
  }
  return problems;
}

/** Every requirement `contribution` misses, in words a contributor can act on; empty when it meets them all. */
export async function unmetRequirements(requires: Requirements | undefined, contribution: Contribution): Promise<string[]> {
  if (!requires) return [];
  const missing = missingAnnotations(requires, contribution.annotations);
  if (requires.ggufValid) missing.push(...(await invalidGgufs(contribution.files)));
  const limit = requires.maxSize === undefined ? undefined : typeof requires.maxSize === 'number' ? requires.maxSize : byteSizeOf(requires.maxSize);
  const total = contribution.files.reduce((sum, file) => sum + file.size, 0);
  if (limit !== undefined && total > limit) missing.push(`a size of at most ${requires.maxSize} (this version has ${total} bytes)`);
  return missing;
}

/** Throws one UsageError listing every unmet requirement of `repo`. */
export async function checkRequirements(repo: string, requires: Requirements | undefined, contribution: Contribution): Promise<void> {
  const missing = await unmetRequirements(requires, contribution);
  if (missing.length === 0) return;
  throw new UsageError(`repository ${repo} requires ${missing.length === 1 ? 'this' : 'these'} before a push: ${missing.join('; ')}`, {
    hint: 'add what is listed and push again (the rules are `requires` in the repository\'s aim-repo.json); nothing was uploaded',
  });
}
