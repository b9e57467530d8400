import { constants } from 'node:fs';
import { mkdir, mkdtemp, open, realpath, rm, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { NotFoundError } from '../../lib/errors.js';
import { openRegular, realFolder } from '../../lib/safe-fs.js';
import { silentProgress, type ProgressSink } from '../progress.js';
import type { Repository } from '../store/repository.js';
import { push, type PushResult } from '../transfer/push.js';
import type { TrustedKey } from '../signing/policy.js';
import { writeModelFiles } from './import-files.js';
import { carriedSignatures, storeCarriedSignatures, type ImportedSignatures } from './import-signatures.js';
import { planImport, type Flavour } from './import-plan.js';
import { removedOnExit } from './removed-on-exit.js';
import { FolderSource, type LayoutSource } from './layout-source.js';
import { MAX_OCI_JSON_BYTES } from './oci-schemas.js';
import { unpackLayoutTar } from './tar-source.js';

// `aim import`: an OCI image layout (a folder, a tar file, or a tar on standard input) holding a ModelPack artifact,
// a KitOps ModelKit or a Docker Model Runner model, pushed as a version the way `aim push` pushes a folder. Its
// files are first laid out in a private folder under AIM_HOME/tmp (a tar's blobs too, since a tar may list layers
// before the manifest): that costs the model's size on local disk once while the import runs, and is removed at the
// end whatever happens. Every blob is checked against its sha256 before push reads it, so a layout that fails
// anywhere pushes nothing under the tag.

const DISK_RESERVE_BYTES = 256 * 1024 * 1024;

export type ImportInput = { kind: 'folder'; path: string } | { kind: 'tar'; stream: Readable; where: string; size?: number };

export interface ImportOptions {
  model: string;
  tag: string;
  force?: boolean;
  /** AIM_HOME: the private work folder is made in its tmp/ folder. */
  home: string;
  progress?: ProgressSink;
  /** The user's trusted keys for the target repository: a carried signature by one of them must verify with it. */
  trustedKeys?: readonly TrustedKey[];
}

export interface ImportResult extends PushResult {
  source: string;
  flavour: Flavour;
  /** The OCI image manifest imported. */
  ociDigest: string;
  layers: number;
  /** For an aim export: whether the version pushed is the very version exported (same files, modes, annotations). */
  sameVersion?: boolean;
  /** The signatures the layout carried: stored beside the version when they sign its files, else dropped. */
  signatures: ImportedSignatures;
}

export async function importModel(repo: Repository, input: ImportInput, options: ImportOptions): Promise<ImportResult> {
  const progress = options.progress ?? silentProgress;
  // Before the layout is read: a repository that cannot take the push should not cost a model's worth of work first.
  await repo.backend.probe('write');
  const tmp = await realFolder(options.home, ['tmp'], { create: true });
  const work = await mkdtemp(join(tmp, 'import-'));
  const forget = removedOnExit(work);
  try {
    const source = await openSource(input, work, progress);
    const plan = await planImport(source);
    const files = join(work, 'files');
    await mkdir(files);
    const task = progress.begin(`checking layers of ${source.where}`, plan.layers.reduce((sum, layer) => sum + layer.descriptor.size, 0));
    await writeModelFiles(source, plan, files, task).finally(() => task.end());
    if (plan.flavour === 'kitops') await writeKitfile(files, plan.config);
    const carried = await carriedSignatures(source, plan);
    const pushed = await push(repo, files, { model: options.model, tag: options.tag, force: options.force, annotations: plan.annotations, progress });
    const version = { model: options.model, tag: options.tag, digest: pushed.digest, manifest: await repo.getManifest(pushed.digest) };
    const stored = await storeCarriedSignatures(repo, version, carried.bundles, options.trustedKeys ?? []);
    return {
      ...pushed,
      source: source.where,
      flavour: plan.flavour,
      ociDigest: plan.manifestDigest,
      layers: plan.layers.length,
      sameVersion: plan.aimDigest === undefined ? undefined : plan.aimDigest === pushed.digest,
      signatures: { stored: stored.stored, warnings: [...carried.warnings, ...stored.warnings] },
    };
  } finally {
    await rm(work, { recursive: true, force: true });
    forget();
  }
}

async function openSource(input: ImportInput, work: string, progress: ProgressSink): Promise<LayoutSource> {
  if (input.kind === 'folder') return new FolderSource(input.path);
  const blobs = join(work, 'layout', 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  // A stream of unknown length gets a line, not a bar that cannot say how far it is.
  if (input.size === undefined) progress.note(`reading the layout tar from ${input.where}`);
  const task = input.size === undefined ? silentProgress.begin('', 0) : progress.begin(`reading ${input.where}`, input.size);
  try {
    const free = await statfs(blobs);
    // A reserve stays free for the push that follows (its stat cache, the index cache) and for everyone else.
    const maxBlobBytes = Math.max(0, free.bavail * free.bsize - DISK_RESERVE_BYTES);
    return await unpackLayoutTar(input.stream, blobs, input.where, { maxTop: MAX_OCI_JSON_BYTES, maxBlobBytes }, task);
  } finally {
    task.end();
  }
}

/** A ModelKit's config is its Kitfile: kept beside the files, as `kit unpack` does, unless a layer holds one. */
async function writeKitfile(files: string, config: Buffer): Promise<void> {
  const handle = await open(join(files, 'Kitfile'), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'EEXIST') return undefined;
    throw error;
  });
  if (!handle) return;
  try {
    await handle.write(config);
  } finally {
    await handle.close();
  }
}

/**
 * What `aim import` was given: `-` (a tar on standard input), a layout folder, or a tar file (opened safely). A link
 * given as the path is the user's own choice, as a pushed file given by a link is: it is resolved once, here, and
 * nothing inside the layout is followed.
 */
export async function importInputFor(path: string, stdin: Readable): Promise<ImportInput> {
  if (path === '-') return { kind: 'tar', stream: stdin, where: 'standard input' };
  const real = await realpath(path).catch((error: NodeJS.ErrnoException) => {
    throw error.code === 'ENOENT' ? new NotFoundError(`${path} does not exist`, { hint: 'give an OCI layout tar, a layout folder, or - for standard input' }) : error;
  });
  const info = await stat(real);
  if (info.isDirectory()) return { kind: 'folder', path: real };
  const handle = await openRegular(real);
  return { kind: 'tar', stream: handle.createReadStream(), where: path, size: (await handle.stat()).size };
}
