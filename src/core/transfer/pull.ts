import { lstat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fsError } from '../../lib/fs-errors.js';
import type { Digest } from '../format/digest.js';
import { HashPool } from '../hashing/hash-pool.js';
import { loadInstallState, loadInstalledManifest, loadOfferedManifest, saveInstallState, saveInstalledManifest, stateFolder, type InstallState } from './install-state.js';
import { encodeManifest, manifestSize, type Manifest, type ManifestFile } from '../format/manifest.js';
import { silentProgress, type ProgressSink, type ProgressTask } from '../progress.js';
import { ChunkBuffers } from './chunk-buffers.js';
import type { PullCounters, PullFileContext } from './fetch-units.js';
import { partialPath, pullFile } from './pull-file.js';
import { stageFollowingGc } from './pull-after-gc.js';
import { prepareDestination, releaseDestination, removeDroppedFiles, removeSecondNames, removeStaleTemps, type HeldState } from './pull-destination.js';
import { installStaged, type Staged } from './pull-install.js';
import type { DestinationLock } from './dest-lock.js';
import { filesToFetch, locatorFor, lookAgain, refuseUsersFiles, type Wanted } from './pull-wanted.js';
import { isSmallFile, stageSmallFiles } from './pull-small.js';
import { prepareFresh, type FreshTree } from './pull-fresh.js';
import { HeldFolder, withShownPaths } from '../../lib/held-folder.js';
import { SmallFileWriter } from './small-file-writer.js';
import { VerifiedRuns } from './verified-runs.js';
import type { Repository } from '../store/repository.js';
import { resolveVersion, type ResolvedVersion, type VersionSelector } from '../store/resolve.js';
import { emptyTrashInBackground } from '../store/trash.js';
import type { QuantFit } from '../serve/quant-fit.js';
import { chooseFiles, type FileChoice, type FileSelection, type SubsetRecord } from './subset.js';
import { log } from '../../lib/log.js';
import { pauseForTest } from './test-pause.js';
import { enforceTrust, type TrustPolicy } from '../signing/policy.js';

// pull = resolve, then take DEST's lock (dest-lock.ts: one command writes a destination at a time, a second waits),
// then look at what DEST holds under the version's names (a file or folder of the user's there stops
// the pull unless forced), then build every changed file in .aim/partial (verified chunk by chunk and as a whole),
// then rename them all into place, then record the installed version. Until the renames nothing under the destination's
// final names changes, and the chunks of the version already installed are read from disk instead of the network.
//
// DEST/.aim and its folders must be real folders, never links (a planted `.aim` link would take every write of the
// pull elsewhere), and what sits under DEST's final names is replaced by rename, never written through or read
// unless it is a regular file: whatever DEST holds, a pull writes and deletes nothing outside it.

export interface PullOptions {
  concurrency?: number;
  /**
   * Other folders pulled by aim (holding `.aim/manifest.json`) whose files may already hold some of the chunks:
   * e.g. the previous version of a model that `aim run` pulled into a folder of its own.
   */
  reuseFrom?: string[];
  progress?: ProgressSink;
  /**
   * A folder DEST lies in whose every folder down to DEST must be a real one, never a link (AIM_HOME, for the
   * versions `aim run` pulls there). Without it DEST is the user's choice, links on the way included.
   */
  within?: string;
  /** Only some files: --include/--exclude globs and a GGUF quantization (subset.ts). */
  select?: FileSelection;
  /** The user's trust policy: a version no trusted key signed is refused before anything is written. */
  trust?: TrustPolicy;
  /**
   * Replace what is not aim's at the version's paths (a file aim did not write or that changed since, a folder holding
   * anything). Without it such a pull is refused before anything is fetched (pull-wanted.ts, Occupant).
   */
  force?: boolean;
  /**
   * DEST's lock (dest-lock.ts), taken by the caller, which lets go of it: held across what the caller does once the
   * pull is done (an install record written), not only the pull.
   */
  lock?: DestinationLock;
  /** Told when the pull waits for another command writing DEST, and every 10 s while it does (dest-lock.ts). */
  onLockWait?: (line: string) => void;
}

export interface PullResult {
  repo: string;
  model: string;
  tag?: string;
  digest: Digest;
  dest: string;
  files: number;
  totalBytes: number;
  /** Chunk bytes read from the backend. */
  bytesTransferred: number;
  /** Bytes not fetched: unchanged files plus chunks reused from files already in the destination. */
  bytesSkipped: number;
  filesUnchanged: number;
  seconds: number;
  /** Present when only some files were taken; `files` and `totalBytes` then count those. */
  subset?: SubsetRecord & { versionFiles: number; versionBytes: number };
  /** How --quant auto chose. */
  fit?: QuantFit;
}

/** The plain error for a failure of the destination's file system (read-only, full, a name too long). */
const destinationError = (dest: string) => (error: unknown): never => {
  throw fsError(error, { path: dest, writableHint: 'pull into a folder you can write to' });
};

export async function pull(repo: Repository, selector: VersionSelector, destination: string, options: PullOptions = {}): Promise<PullResult> {
  return (await planPull(repo, selector, destination, options, true)).run();
}

/**
 * A pull that has looked at DEST and fetched nothing yet: DEST held, what stands under the version's names known. A
 * bundle plans every member's pull before it runs any, so that the user's files in any member's folder stop them all.
 */
export interface PlannedPull {
  /** The files to fetch, each with what stands at its target or where a folder of its path goes. */
  readonly wanted: readonly Wanted[];
  /** Refuses the user's files in the way (unless forced), then fetches and installs; lets go of DEST either way. */
  run(): Promise<PullResult>;
  /** Lets go of DEST without pulling: DEST left as it was found (an empty DEST the plan made is removed). */
  cancel(): Promise<void>;
}

/**
 * `showChecks`: the pull's progress begins with the look at DEST (files whose stat moved are read whole there). Plans
 * made side by side (a bundle's) look quietly: one progress bar at a time.
 */
export async function planPull(repo: Repository, selector: VersionSelector, destination: string, options: PullOptions = {}, showChecks = false): Promise<PlannedPull> {
  const dest = resolve(destination);
  return planInto(repo, selector, dest, options, showChecks).catch(destinationError(dest));
}

async function planInto(repo: Repository, selector: VersionSelector, dest: string, options: PullOptions, showChecks: boolean): Promise<PlannedPull> {
  const started = performance.now();
  const version = await resolveVersion(repo, selector);
  await enforceTrust(repo, version, options.trust);
  const hadDest = (await lstat(dest).catch(() => undefined)) !== undefined;
  const hadState = (await lstat(stateFolder(dest)).catch(() => undefined)) !== undefined;
  // `.aim` and every partial are reached through the folders held here, whatever their paths lead to meanwhile.
  const held = await prepareDestination(dest, options.within, { callersLock: options.lock, onWait: options.onLockWait });
  const pool = new HashPool();
  let released = false;
  let plan: Plan | undefined;
  const release = async (done: boolean) => {
    if (released) return;
    released = true;
    plan?.task?.end();
    // A pull refused (or failed) before it staged anything leaves DEST as it found it: no `.aim` it made, empty.
    await releaseDestination(held, dest, !done && !hadState ? { destToo: !hadDest } : undefined);
    await pool.close();
  };
  try {
    await removeSecondNames(held.partials);
    plan = await lookAtDestination(repo, version, dest, options, pool, showChecks);
    const planned = plan;
    const run = async () => {
      let done = false;
      try {
        const result = await pullHeld(repo, planned, dest, options, held, started);
        done = true;
        return result;
      } catch (error) {
        // Named by the user's paths while `.aim` is still held: its /proc/self/fd/N means nothing once let go.
        throw withShownPaths(error);
      } finally {
        await release(done);
      }
    };
    return { wanted: planned.wanted, run: () => run().catch(destinationError(dest)), cancel: () => release(false) };
  } catch (error) {
    const shown = withShownPaths(error);
    await release(false);
    throw shown;
  }
}

/** What a pull found in DEST before fetching anything (planPull). */
interface Plan {
  version: ResolvedVersion;
  /** The version, or the files of it the selection took. */
  manifest: Manifest;
  choice: FileChoice;
  state: InstallState;
  /** The new state, with the files already in place recorded. */
  next: InstallState;
  wanted: Wanted[];
  /** Bytes of the files already in place. */
  reused: number;
  pool: HashPool;
  /** The pull's progress, begun by the look at DEST (showChecks): taken over by the first stageFiles. */
  task?: ProgressTask;
}

async function lookAtDestination(repo: Repository, version: ResolvedVersion, dest: string, options: PullOptions, pool: HashPool, showChecks: boolean): Promise<Plan> {
  const state = await loadInstallState(dest);
  // A subset pulled before from this same version stays: a second pull with another selection adds to it.
  const installedBefore = (path: string) => state.manifest === version.digest && state.files[path] !== undefined;
  const choice = await chooseFiles(version.manifest, options.select ?? {}, `${repo.name}/${version.model}`, installedBefore);
  const manifest = { ...version.manifest, files: choice.files };
  const next: InstallState = { version: 1, manifest: version.digest, repo: repo.name, model: version.model, tag: version.tag, files: {}, ...(choice.subset ? { subset: choice.subset } : {}) };
  const counters: PullCounters = { bytesTransferred: 0, bytesReused: 0 };
  const task = showChecks ? beginTask(repo, version, manifest, options) : undefined;
  const wanted = await filesToFetch(manifest, dest, state, next, { pool, counters, task });
  return { version, manifest, choice, state, next, wanted, reused: counters.bytesReused, pool, task };
}

function beginTask(repo: Repository, version: ResolvedVersion, selected: Manifest, options: PullOptions): ProgressTask {
  return (options.progress ?? silentProgress).begin(`pulling ${repo.name}/${version.model}@${version.digest.slice(7, 19)}`, manifestSize(selected));
}

async function pullHeld(repo: Repository, plan: Plan, dest: string, options: PullOptions, held: HeldState, started: number): Promise<PullResult> {
  const { version, manifest, choice, state, next } = plan;
  const { partials } = held;
  if (!options.force) refuseUsersFiles(plan.wanted);
  log.info('pull started', { repo: repo.name, model: version.model, tag: version.tag, digest: version.digest, files: manifest.files.length, bytes: manifestSize(manifest) });
  const { counters, filesUnchanged } = await stageAndInstall(repo, plan, dest, options, held);
  await removeDroppedFiles(dest, state, manifest);
  await removeStaleTemps(partials, started);
  // The pull used the folder it checked; one no longer at its path (a link put there) is reported, not recorded over.
  partials.expectStillThere();
  await emptyTrashInBackground(dest);
  await saveInstallState(dest, next, undefined, held.aim);
  const seconds = (performance.now() - started) / 1000;
  log.info('pull complete', { repo: repo.name, digest: version.digest, bytes: manifestSize(manifest), transferred: counters.bytesTransferred, skipped: counters.bytesReused, seconds });
  return {
    repo: repo.name,
    model: version.model,
    tag: version.tag,
    digest: version.digest,
    dest,
    files: manifest.files.length,
    totalBytes: manifestSize(manifest),
    bytesTransferred: counters.bytesTransferred,
    bytesSkipped: counters.bytesReused,
    filesUnchanged,
    seconds,
    ...(choice.subset ? { subset: { ...choice.subset, versionFiles: version.manifest.files.length, versionBytes: manifestSize(version.manifest) } } : {}),
    ...(choice.fit ? { fit: choice.fit } : {}),
  };
}

/**
 * Builds the files (stageFiles) and puts them in place (pull-install.ts), with the small-file writer's worker thread,
 * which writes and renames the small files' partials. Every folder the writer reaches through a descriptor stays open
 * until the thread has stopped: a number closed earlier could be reused by another folder under a job still running.
 */
async function stageAndInstall(repo: Repository, plan: Plan, dest: string, options: PullOptions, { aim, partials }: HeldState): Promise<{ counters: PullCounters; filesUnchanged: number }> {
  const { version, state, next } = plan;
  const writer = SmallFileWriter.create();
  const smallFiles = plan.wanted.filter(({ file }) => isSmallFile(file)).length;
  if (smallFiles > 0) writer.warm(smallFiles);
  const trees: FreshTree[] = [];
  try {
    const stage = () => stageFiles(repo, plan, dest, options, writer, partials, trees);
    const staged = await stageFollowingGc(repo, version.digest, options.progress ?? silentProgress, stage);
    // The whole manifest, even for a subset (its bytes are the version's digest: those read, where there are), written
    // while the files are renamed.
    const manifestBytes = version.bytes ?? encodeManifest(version.manifest);
    const manifestSaved = (staged.durable ?? Promise.resolve()).then(() => saveInstalledManifest(dest, manifestBytes, state, version.digest, aim));
    // Both settle before anything is thrown: no write of .aim is left running when the pull ends.
    const settled = await Promise.allSettled([installStaged(dest, staged.staged, next, writer, { durable: staged.durable, tree: staged.fresh, force: options.force, aim }), manifestSaved]);
    for (const result of settled) if (result.status === 'rejected') throw result.reason;
    return staged;
  } finally {
    await writer.close();
    for (const tree of trees) tree.close();
  }
}

interface StagedFiles {
  staged: Staged[];
  counters: PullCounters;
  filesUnchanged: number;
  /** Settles when the small files' partials are durable: none may be renamed into place before. */
  durable?: Promise<void>;
  /** `.aim/fresh`, when this pull builds fresh top-level folders there (pull-fresh.ts). */
  fresh?: FreshTree;
}

/**
 * Builds each file that is not already in place in `.aim/partial` (verified), and records in `next` the ones that
 * are. Nothing under DEST's final names changes yet. Files of one chunk or none are built together, per pack
 * (pull-small.ts); bigger ones one after the other, each with its chunks in flight (pull-file.ts).
 */
async function stageFiles(repo: Repository, plan: Plan, dest: string, options: PullOptions, writer: SmallFileWriter, partials: HeldFolder, trees: FreshTree[]): Promise<StagedFiles> {
  const { version, manifest: selected, state, wanted, pool } = plan;
  const progress = options.progress ?? silentProgress;
  // The files in place were found by the look at DEST: their bytes count from the start.
  const counters: PullCounters = { bytesTransferred: 0, bytesReused: plan.reused };
  // The look's progress goes on here; a second staging (after a gc) starts a new one.
  let task = plan.task;
  plan.task = undefined;
  if (!task) {
    task = beginTask(repo, version, selected, options);
    task.advance(plan.reused);
  }
  const result: StagedFiles = { staged: [], counters, filesUnchanged: selected.files.length - wanted.length };
  let runs: VerifiedRuns | undefined;
  try {
    // Every file in place: nothing to fetch, so nothing to locate.
    if (wanted.length === 0) return result;
    // Other folders only offer chunks: one whose record cannot be read, or that leads elsewhere, offers none.
    const reusable = async (folder: string) => ({ dest: folder, manifest: await loadOfferedManifest(folder) });
    const others = await Promise.all((options.reuseFrom ?? []).map(reusable));
    const locator = await locatorFor([{ dest, manifest: await loadInstalledManifest(dest) }, ...others]);
    repo.cacheIndex();
    const index = await repo.locationsFor(version.digest, version.manifest, (why) => progress.note(why));
    const context: PullFileContext = { repo, pool, locator, counters, task, concurrency: options.concurrency ?? repo.concurrency, buffers: ChunkBuffers.for(index, locator), index };
    const folder = partials.via;
    const small = smallContents(wanted.map(({ file }) => file));
    // A folder repository's packs are read in place and big files' runs checked on a worker thread (verified-runs.ts).
    if (repo.backend.localFiles && wanted.some(({ file }) => !small.has(file.digest))) context.runs = runs = VerifiedRuns.create();
    const smallWanted = wanted.filter(({ file }) => small.has(file.digest));
    const inFreshFolders = smallWanted.filter((entry) => entry.freshTop !== undefined);
    result.fresh = await prepareFresh(dest, inFreshFolders.map(({ file }) => file.path), smallWanted.map(({ file }) => file), partials);
    if (result.fresh) trees.push(result.fresh);
    const fresh = result.fresh ? { tree: result.fresh, files: new Set(inFreshFolders.map(({ file }) => file)) } : undefined;
    const built = await stageSmallFiles(smallWanted.map(({ file }) => file), folder, context, writer, fresh);
    result.durable = built.durable;
    for (const entry of wanted) {
      const isSmall = small.has(entry.file.digest);
      const isFresh = fresh?.files.has(entry.file) ?? false;
      const temp = isFresh ? fresh!.tree.pathOf(entry.file) : isSmall ? partialPath(folder, entry.file) : await pullFile(entry.file, folder, context);
      // One literal, not a spread: V8 spreads an object slowly in code that runs once, and this runs once a file.
      const freshTop = isFresh ? entry.freshTop : undefined;
      const written = isFresh ? built.written.get(entry.file) : undefined;
      result.staged.push({ file: entry.file, target: entry.target, occupant: entry.occupant, blockedBy: entry.blockedBy, temp, modeSet: isSmall, journal: !isSmall, freshTop, written });
    }
    pauseForTest('BEFORE_LAST_LOOK');
    if (!options.force) {
      // Refused now, the built files stay in .aim/partial: the pull run again once they are moved away reuses them.
      await lookAgain(result.staged, dest, state, pool);
      refuseUsersFiles(result.staged);
    }
  } finally {
    task.end();
    await runs?.close();
  }
  return result;
}

/** Contents (digests) whose every file is of one chunk or none: those go the small-file way, sharing one partial. */
function smallContents(files: ManifestFile[]): Set<Digest> {
  const big = new Set(files.filter((file) => !isSmallFile(file)).map((file) => file.digest));
  return new Set(files.filter((file) => isSmallFile(file) && !big.has(file.digest)).map((file) => file.digest));
}
