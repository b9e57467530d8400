import { IntegrityError, UsageError } from '../../lib/errors.js';
import { forEachConcurrently } from '../../lib/concurrently.js';
import type { Digest } from '../format/digest.js';
import { silentProgress, type ProgressSink } from '../progress.js';
import { manifestKey, PACKED_FORMAT, Repository } from '../store/repository.js';
import { packKey, type PackedChunk } from '../store/packs.js';
import { deletePendingRecords, newPushId } from '../store/pending.js';
import { stopHereInTests } from '../store/test-stop.js';
import { fixLocationMaps } from './gc-maps.js';
import { acquireGcLock } from './gc-lock.js';
import { deleteExpiredGcRecords, writeGcRecord } from './gc-records.js';
import { replaceIndexFiles } from './index-rewrite.js';
import { planGc, type GcPlan } from './plan.js';
import { repackLive } from './repack.js';
import { surveyRepository, type Survey } from './survey.js';

// aim gc: removes what no root reaches (roots.ts), repacking packs partly alive (plan.ts). The write order keeps a
// repository that verifies after a crash at any point, and a push running meanwhile safe (gc-records.ts):
//
//   survey, plan -> gc record naming every pack that may go -> removal mark "started" -> survey again (roots
//   written meanwhile count; only packs the record names, and manifests and maps the first look found unreached,
//   may go) -> new packs, their shards and keys (repack.ts)
//   -> location maps of kept versions rewritten, maps of dead versions deleted -> index files replaced, key
//   objects pointed at the replacements -> packs deleted -> manifests deleted -> pending record, mark "done"
//
// Until the packs are deleted nothing names them; until then every kept map names stored, indexed chunks.

export interface GcOptions {
  /** Nothing written less than this long ago is removed. */
  graceMs: number;
  /** Waste (bytes of dead chunks in packs kept) left alone, in percent of the packs' bytes. */
  maxUnusedPercent: number;
  /** Remove; otherwise only say what would go. */
  yes: boolean;
  progress?: ProgressSink;
}

export interface GcResult {
  repo: string;
  dryRun: boolean;
  packs: { deleted: number; repacked: number; kept: number; written: number };
  manifests: number;
  maps: { deleted: number; rewritten: number };
  /** Signature objects of removed (or never stored) versions. */
  signatures: number;
  indexFiles: number;
  keyObjects: number;
  bytes: GcPlan['bytes'] & { written: number };
  /** Left alone for being younger than --grace. */
  young: GcPlan['young'];
  /** Packs kept because a live chunk in them is missing or damaged (`aim verify` names it). */
  damagedPacks: string[];
  /** Tags, models or manifests that do not read: with any, `--yes` removes nothing. */
  problems: Array<{ key: string; message: string }>;
}

function summary(repo: Repository, plan: GcPlan, dryRun: boolean, done?: Partial<GcResult>): GcResult {
  return {
    repo: repo.name,
    dryRun,
    packs: { deleted: plan.deletePacks.length, repacked: plan.repackPacks.length, kept: plan.keptPacks, written: 0 },
    manifests: plan.deleteManifests.length,
    maps: { deleted: plan.deleteMaps.length, rewritten: 0 },
    signatures: plan.signatureKeys.length,
    indexFiles: plan.indexFiles.length,
    keyObjects: 0,
    bytes: { ...plan.bytes, written: 0 },
    young: plan.young,
    damagedPacks: [],
    problems: [],
    ...done,
  };
}

function refuseOnProblems(repo: Repository, survey: Survey): void {
  const [first, ...others] = survey.roots.problems;
  if (!first) return;
  throw new IntegrityError(`gc cannot tell what ${first.key} in ${repo.name} names: ${first.message}${others.length ? ` (and ${others.length} more)` : ''}`, {
    hint: `fix or remove it (\`aim untag\`, \`aim verify ${repo.name}\`), then run gc again: nothing was removed`,
  });
}

const nothingToRemove = (plan: GcPlan): boolean =>
  plan.deletePacks.length + plan.repackPacks.length + plan.deleteManifests.length + plan.deleteMaps.length + plan.deleteSignatures.length === 0;

export async function gc(repo: Repository, options: GcOptions): Promise<GcResult> {
  const metadata = await repo.metadata();
  if (metadata && metadata.format !== PACKED_FORMAT) {
    throw new UsageError(`aim gc works on packed repositories (format 2); ${repo.name} is format ${metadata.format}`, {
      hint: 'its chunks are separate objects: nothing to repack',
    });
  }
  const progress = options.progress ?? silentProgress;
  progress.note(`looking at everything in ${repo.name}`);
  if (!options.yes) {
    const survey = await surveyRepository(repo, options.graceMs);
    return summary(repo, planGc(survey, options), true, { problems: survey.roots.problems });
  }
  await repo.backend.probe('write');
  const pushId = newPushId();
  const lock = await acquireGcLock(repo.backend, repo.name, pushId);
  try {
    if (!lock.tookOver && Repository.removalUnderWay(await repo.removalMark())) {
      throw new UsageError(`a repair of ${repo.name} (\`aim verify --repair\`) is under way`, { hint: 'run gc once it has finished' });
    }
    const abandoned = new Set(lock.previousPushId ? [lock.previousPushId] : []);
    return await collect(repo, { ...options, pushId, abandoned, tookOver: lock.tookOver }, progress);
  } finally {
    await lock.release();
  }
}

interface Run extends GcOptions {
  /** The push id of the packs this gc writes. */
  pushId: string;
  /** A killed gc's push id: its pending record protects nothing, and goes at the end. */
  abandoned: ReadonlySet<string>;
  /** The lock was a killed gc's: its "started" removal mark is ended here even when nothing is left to remove. */
  tookOver: boolean;
}

async function collect(repo: Repository, run: Run, progress: ProgressSink): Promise<GcResult> {
  const backend = repo.backend;
  const firstSurvey = await surveyRepository(repo, run.graceMs, run.abandoned);
  refuseOnProblems(repo, firstSurvey);
  const first = planGc(firstSurvey, run);
  if (nothingToRemove(first)) {
    if (run.tookOver) await finishUp(repo, [...run.abandoned]);
    return summary(repo, first, false);
  }
  const condemned = new Set([...first.deletePacks, ...first.repackPacks].map((p) => p.id));
  await writeGcRecord(backend, condemned);
  await repo.markRemovals('started');
  stopHereInTests('gc-marked');
  // Again, now that every push starting from here avoids those packs: a version committed since the first look
  // keeps what it names.
  const survey = await surveyRepository(repo, run.graceMs, run.abandoned);
  refuseOnProblems(repo, survey);
  const plan = planGc(survey, { ...run, allowed: condemned, allowedVersions: new Set([...first.deleteManifests, ...first.deleteMaps, ...first.deleteSignatures]) });
  const task = progress.begin(`repacking ${plan.repackPacks.length} pack(s)`, plan.bytes.copied);
  const repacked = await repackLive(backend, plan.repackPacks, run.pushId, task).finally(() => task.end());
  stopHereInTests('gc-repacked');
  const removed = new Set([...plan.deletePacks, ...plan.repackPacks].map((p) => p.id).filter((id) => !repacked.damaged.has(id)));
  const locate = (chunk: Digest): PackedChunk | undefined => {
    const home = plan.homes.get(chunk);
    return repacked.moved.get(chunk) ?? (home && !removed.has(home.pack) ? home : undefined);
  };
  const maps = await fixLocationMaps(backend, survey.roots.versions, new Set(survey.maps.keys()), removed, locate, plan.deleteMaps);
  stopHereInTests('gc-maps');
  const keyObjects = await replaceIndexFiles(backend, survey.index, plan.indexFiles, removed, repacked.shards);
  stopHereInTests('gc-index');
  progress.note(`deleting ${removed.size} pack(s) and ${plan.deleteManifests.length} manifest(s)`);
  await forEachConcurrently(removed, 8, (pack) => backend.delete(packKey(pack)));
  stopHereInTests('gc-packs');
  await forEachConcurrently(plan.deleteManifests, 8, (digest) => backend.delete(manifestKey(digest)));
  // After their manifests: a signature without its version signs nothing anyone can pull.
  await forEachConcurrently(plan.signatureKeys, 8, (key) => backend.delete(key));
  stopHereInTests('gc-manifests');
  await finishUp(repo, [run.pushId, ...run.abandoned]);
  return summary(repo, plan, false, {
    packs: { deleted: plan.deletePacks.length, repacked: plan.repackPacks.length - repacked.damaged.size, kept: plan.keptPacks, written: repacked.packsWritten },
    maps,
    keyObjects,
    bytes: { ...plan.bytes, written: repacked.bytesWritten },
    damagedPacks: [...repacked.damaged],
  });
}

async function finishUp(repo: Repository, pendingIds: string[]): Promise<void> {
  await deletePendingRecords(repo.backend, pendingIds);
  await repo.markRemovals('done');
  await deleteExpiredGcRecords(repo.backend).catch(() => undefined);
}
