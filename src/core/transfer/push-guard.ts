import type { Digest } from '../format/digest.js';
import { shortDigest } from '../format/digest.js';
import { DEFAULT_TAG } from '../format/reference.js';
import type { Manifest, ManifestFile } from '../format/manifest.js';
import { ConflictError, IntegrityError, isAimError } from '../../lib/errors.js';
import type { Repository } from '../store/repository.js';
import type { SourceFile } from './walk.js';

// A version tag is immutable: without --force, a push to a tag that exists must produce exactly the version it
// names. The version's digest is known only once every file is read, so waiting for it would upload the whole new
// content before refusing (and leave it unreferenced). Instead the tagged manifest is read first and the push is
// compared with it as it goes: the file list before any file is read, each chunk's digest before the chunk is
// stored, each file's digest once known. At the first difference the push stops, having stored nothing but chunks of
// the tagged version itself (the only ones it may store: a repository that lost some gets them back, as `verify
// --repair` tells users to do).

export class TagGuard {
  private readonly expected: Map<string, ManifestFile>;

  private constructor(
    private readonly where: string,
    private readonly digest: Digest,
    files: ManifestFile[],
  ) {
    this.expected = new Map(files.map((file) => [file.path, file]));
  }

  /**
   * The guard for a push to `tag`, or undefined when any content may go there: --force, `latest`, a tag that does
   * not exist, or one whose tag or manifest does not read back (the push writes over it, and so repairs it). A tag
   * or manifest that cannot be read for another reason leaves the push to the check it makes before moving the tag.
   */
  static async forPush(repo: Repository, model: string, tag: string, force: boolean): Promise<TagGuard | undefined> {
    if (force || tag === DEFAULT_TAG) return undefined;
    const unreadable = (error: unknown): undefined => {
      if (isAimError(error)) return undefined;
      throw error;
    };
    const record = await repo.getTag(model, tag).catch(unreadable);
    if (!record) return undefined;
    const manifest = await repo.getManifest(record.digest).catch(unreadable);
    return manifest && new TagGuard(`tag ${tag} of ${repo.name}/${model}`, record.digest, manifest.files);
  }

  /** Before any file is read: the same paths, sizes and modes, in the same order. */
  checkFiles(files: SourceFile[]): void {
    const expected = [...this.expected.values()];
    if (files.length !== expected.length) this.refuse(`${files.length} files instead of ${expected.length}`);
    for (const [index, file] of files.entries()) {
      const tagged = expected[index]!;
      if (file.path !== tagged.path) this.refuse(`${file.path} is not in it`);
      if (file.size !== tagged.size) this.refuse(`${file.path} is ${file.size} bytes, not ${tagged.size}`);
      if (file.mode !== tagged.mode) this.refuse(`${file.path} has mode ${file.mode.toString(8)}, not ${tagged.mode.toString(8)}`);
    }
  }

  /** Before a chunk is stored: the tagged file has the same chunk at this place. */
  checkChunk(path: string, index: number, digest: Digest): void {
    if (this.expected.get(path)?.chunks[index]?.digest !== digest) this.refuse(`${path} differs from byte ${this.offsetOf(path, index)}`);
  }

  /** Once a file is read (or known unchanged from the stat cache): the same whole-file digest. */
  checkFile(file: ManifestFile): void {
    if (this.expected.get(file.path)?.digest !== file.digest) this.refuse(`${file.path} differs`);
  }

  private offsetOf(path: string, index: number): number {
    return (this.expected.get(path)?.chunks ?? []).slice(0, index).reduce((sum, chunk) => sum + chunk.size, 0);
  }

  private refuse(difference: string): never {
    throw new ConflictError(`${this.where} already names other content (${shortDigest(this.digest)}): ${difference}`, {
      hint: 'versions are immutable: push under a new tag, or pass --force to move the tag (none of the new content was stored)',
    });
  }
}

/**
 * Throws for the first chunk of `manifest` that is in no pack of the repository (all of whose index the push has read
 * by then): a damaged stat cache entry in AIM_HOME named it for a file the push did not read.
 */
export function refuseUnstored(repo: Repository, manifest: Manifest, located: (chunk: Digest) => boolean): void {
  const file = manifest.files.find((f) => !f.chunks.every((chunk) => located(chunk.digest)));
  const chunk = file?.chunks.find((c) => !located(c.digest));
  if (!file || !chunk) return;
  throw new IntegrityError(`chunk ${chunk.digest} of ${file.path} is in no pack of ${repo.name}: the stat cache named it without reading the file; nothing was committed`, {
    hint: 'push again with --rehash, which reads every file',
  });
}
