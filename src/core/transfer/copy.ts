import { NotFoundError, UsageError } from '../../lib/errors.js';
import { counted } from '../../lib/plural.js';
import type { Digest } from '../format/digest.js';
import { DEFAULT_TAG } from '../format/reference.js';
import { silentProgress, type ProgressSink } from '../progress.js';
import { readableTags, type RepoProblem } from '../store/model-listing.js';
import type { Repository } from '../store/repository.js';
import { resolveVersion, type VersionSelector } from '../store/resolve.js';
import { RemovalRaceError } from '../gc/gc-race.js';
import { refuseBundleName } from '../store/bundles.js';
import { copyVersion, sameChunking, type CopiedVersion } from './copy-version.js';
import type { TrustedKey } from '../signing/policy.js';

// aim copy: versions from one repository to another (a folder and a bucket, either way), moving only the chunks the
// destination lacks. Chunks are content-addressed and a manifest is copied byte for byte, so a version keeps its
// digest; repositories that cut files differently can still exchange versions (later pushes just dedupe less).

export interface CopyRequest {
  source: Repository;
  selector: VersionSelector;
  /** Every tag of the source model, oldest first (the destination's `latest` ends on the newest). */
  allTags: boolean;
  destination: Repository;
  /** The destination model (default: the source's) and tag (default: the source's). */
  model?: string;
  tag?: string;
  force: boolean;
  progress?: ProgressSink;
  /** Keys trusted for either repository (see VersionCopy). */
  trustedKeys?: readonly TrustedKey[];
}

export interface CopyResult {
  source: string;
  destination: string;
  model: string;
  versions: CopiedVersion[];
  chunks: number;
  bytesMoved: number;
  bytesSkipped: number;
  problems: RepoProblem[];
  seconds: number;
}

/** Which versions go, each with the tags it gets at the destination. */
async function versionsToCopy(request: CopyRequest, problems: RepoProblem[]): Promise<Map<Digest, string[]>> {
  const { source, selector } = request;
  const versions = new Map<Digest, string[]>();
  if (request.allTags) {
    if (selector.digest || request.tag) throw new UsageError('--all-tags copies every tag of a model: name no tag or digest', { hint: 'aim copy SRC/MODEL DST --all-tags' });
    for (const { tag, digest } of await readableTags(source, selector.model, problems)) {
      if (tag !== DEFAULT_TAG) versions.set(digest, [...(versions.get(digest) ?? []), tag]);
    }
    // `latest` alone names no version to copy: it moves at the destination with the tags that arrive.
    if (versions.size === 0) {
      const unread = problems.length === 0 ? '' : ` (${counted(problems.length, 'tag')} did not read)`;
      throw new NotFoundError(`model ${selector.model} of repository ${source.name} has no version tag to copy${unread}`, {
        hint: `aim model versions ${source.name} ${selector.model}`,
      });
    }
    return versions;
  }
  const tag = request.tag ?? selector.tag;
  if (!tag) throw new UsageError(`copying ${selector.digest} needs a tag at the destination`, { hint: 'aim copy SRC/MODEL@DIGEST DST/MODEL:TAG' });
  const { digest } = await resolveVersion(source, selector);
  return new Map([[digest, [tag]]]);
}

export async function copy(request: CopyRequest): Promise<CopyResult> {
  const started = performance.now();
  const progress = request.progress ?? silentProgress;
  const { source, destination } = request;
  const model = request.model ?? request.selector.model;
  const problems: RepoProblem[] = [];
  const versions = await versionsToCopy(request, problems);
  await destination.backend.probe('write');
  await refuseBundleName(destination, model);
  await destination.ensureMetadata();
  if (!(await sameChunking(source, destination))) {
    progress.note(`${source.name} and ${destination.name} cut files differently: the copy is exact, but pushes to ${destination.name} will not dedupe against it`);
  }
  const copied: CopiedVersion[] = [];
  for (const [digest, tags] of versions) {
    const job = { source, destination, digest, model, tags, force: request.force, progress, trustedKeys: request.trustedKeys };
    copied.push(await withRetries(() => copyVersion(job), progress));
  }
  const sum = (of: (v: CopiedVersion) => number) => copied.reduce((total, v) => total + of(v), 0);
  return {
    source: source.name,
    destination: destination.name,
    model,
    versions: copied,
    chunks: sum((v) => v.chunks),
    bytesMoved: sum((v) => v.bytesMoved),
    bytesSkipped: sum((v) => v.bytesSkipped),
    problems,
    seconds: (performance.now() - started) / 1000,
  };
}

/** A copy that lost a race with a gc runs again: only what the gc removed is sent. */
async function withRetries<T>(work: () => Promise<T>, progress: ProgressSink): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (!(error instanceof RemovalRaceError) || attempt === 3) throw error;
      progress.note(`${error.message}: copying again`);
    }
  }
}
