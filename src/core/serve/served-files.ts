// What `run` needs on disk before an engine starts: the GGUF file(s) it serves, and nothing else of the version. An
// installed model (aim install) is used as it is, without asking the repository; a file it lacks (another
// quantization than the one installed) or a model not installed is pulled into AIM_HOME, only the served file(s).
import { findInstalled, folderOf, installedManifest } from '../install/records.js';
import { pullIntoHome } from '../install/pull-into-home.js';
import type { Digest } from '../format/digest.js';
import type { Manifest } from '../format/manifest.js';
import { formatReference, type Reference } from '../format/reference.js';
import type { ProgressSink } from '../progress.js';
import type { Session } from '../session.js';
import type { Repository } from '../store/repository.js';
import { resolveVersion } from '../store/resolve.js';
import { enforceTrust } from '../signing/policy.js';
import { trustPolicyFor } from '../config/trust-policy.js';
import { loadInstallState } from '../transfer/install-state.js';
import { selectGgufFiles, type GgufSelection } from './gguf-pick.js';
import { NotFoundError } from '../../lib/errors.js';
import { fitToMachine, ggufVariants, type QuantFit } from './quant-fit.js';
import { servingFolder } from './serving-folder.js';
import { pathFilter, type PathSelection } from '../transfer/path-filter.js';

export interface ServedFiles {
  dest: string;
  manifest: Manifest;
  /** The version's paths --include/--exclude leave to choose the GGUF from. */
  candidates: string[];
  quant?: string;
  fit?: QuantFit;
  /** Whether an installed copy was used without a pull. */
  fromInstalled: boolean;
}

export interface Located {
  dest: string;
  digest: Digest;
  manifest: Manifest;
  installed: boolean;
}

/** Where a reference's version is in AIM_HOME (installed, or where a pull puts it); nothing is pulled. */
export async function locateServed(session: Session, ref: Reference, home: string, repository?: Repository): Promise<Located> {
  const installed = await findInstalled(home, ref);
  if (installed) {
    const manifest = await installedManifest(home, installed);
    if (manifest) return { dest: folderOf(home, installed), digest: installed.digest, manifest, installed: true };
  }
  const version = await resolveVersion(repository ?? (await session.repository(ref.repo)), ref);
  return { dest: servingFolder(home, ref.repo, ref.model, version.digest), digest: version.digest, manifest: version.manifest, installed: false };
}

export interface ServedFilesOptions {
  home: string;
  progress?: ProgressSink;
  /** Narrows the GGUF files to choose from (e.g. one folder of a version holding several models). */
  select?: PathSelection;
  /** Tokens of context the engine will hold (every parallel sequence together), for --quant auto. */
  context?: number;
  /** `quant` is a default (none given by the user): when the version lacks it, the best fit is served instead. */
  quantIsDefault?: boolean;
  /** The version already located by the caller (exec looks for a deployment of it first). */
  located?: Located;
  /** The repository holding `ref` when it is none of the configured ones (aim's own hub repository). */
  repository?: Repository;
  /** `--require-signed`: refuse a version no trusted key signed even when the repository's policy does not ask. */
  requireSigned?: boolean;
  /** Whether the engine may use a GPU (serve.gpu): its free memory then counts when choosing a quantization. */
  gpu?: 'auto' | 'off';
  /** Told when the pull waits for another command writing the version's folder (pullIntoHome): an MCP client hears it. */
  onLockWait?: (line: string) => void;
}

export async function fetchServedFiles(session: Session, ref: Reference, quant: string | undefined, options: ServedFilesOptions): Promise<ServedFiles> {
  const label = formatReference(ref);
  const located = options.located ?? (await locateServed(session, ref, options.home, options.repository));
  const { dest, digest, manifest } = located;
  // Before anything lands in AIM_HOME, and also when this version was pulled earlier under a laxer policy.
  const policy = await trustPolicyFor(session.config, ref.repo, options.requireSigned);
  if (policy) await enforceTrust(options.repository ?? (await session.repository(ref.repo)), { model: ref.model, tag: ref.tag, digest, manifest }, policy);
  const selected = pathFilter(options.select ?? {});
  const files = manifest.files.filter((f) => selected(f.path));
  const candidates = files.map((f) => f.path);
  const fitNow = (): Promise<QuantFit> => fitToMachine(ggufVariants(files, new Map(), options.context), label, options.gpu);
  let fit = quant?.toLowerCase() === 'auto' ? await fitNow() : undefined;
  let selection: GgufSelection;
  try {
    selection = selectGgufFiles(candidates, { quant: fit ? fit.chosen.quant : quant, label });
  } catch (error) {
    // A default the user did not ask for (q6_k, or a friendly name's) that this version lacks: the largest
    // quantization that fits the machine instead, and the caller says which.
    if (!options.quantIsDefault || !(error instanceof NotFoundError) || ggufVariants(files).length === 0) throw error;
    fit = await fitNow();
    selection = selectGgufFiles(candidates, { quant: fit.chosen.quant, label });
  }
  const state = await loadInstallState(dest);
  const onDisk = state.manifest === digest && selection.files.every((path) => state.files[path] !== undefined);
  if (!onDisk) {
    const repository = options.repository ?? (await session.repository(ref.repo));
    await pullIntoHome(repository, ref.model, digest, { home: options.home, select: { paths: selection.files }, progress: options.progress, onLockWait: options.onLockWait });
  }
  return { dest, manifest, candidates, quant: selection.quant, fit, fromInstalled: located.installed && onDisk };
}
