// run / ps / stop as core functions: resolve what the user named (a reference or a friendly name), pull it into
// AIM_HOME by digest (so a tag that moves later never changes a running deployment's files), pick the GGUF, hand it
// to an engine, and keep a record. Commands only parse and render; these return data and emit progress events.
import type { DeploymentRecord, EngineEvent, EngineKind } from '../../serving/engine.js';

export type { EngineEvent, LiveDeployment } from '../../serving/engine.js';
import type { KamiwazaEngine } from '../../serving/kamiwaza/kamiwaza.js';
import { hubFiles, startFromHub } from '../../serving/kamiwaza/kamiwaza-hub.js';
import { basename } from 'node:path';
import { buildCatalog, suggestNames, type CatalogEntry } from './catalog.js';
import { NotFoundError, UsageError } from '../../lib/errors.js';
import { pickGguf, selectGgufFiles, type PickedGguf } from './gguf-pick.js';
import type { GgufFacts } from '../format/gguf.js';
import { aimHome } from '../../settings/home.js';
import { runDir } from './deployments.js';
import { checkDeploymentName } from '../format/names.js';
import { claimName, startRecorded } from './recorded-start.js';
import type { ProgressSink } from '../progress.js';
import { formatReference, parseReference, type Reference } from '../format/reference.js';
import { fetchServedFiles, type ServedFilesOptions } from './served-files.js';
import type { QuantFit } from './quant-fit.js';
import { servedContext } from './served-context.js';
import type { PathSelection } from '../transfer/path-filter.js';
import type { Session } from '../session.js';
import { chooseEngine, engineFor, type EngineChoice } from './serve-engines.js';
import { choosePort } from './serve-port.js';
import { fetchHubModel } from '../hub/hub-fetch.js';
import { localModelFile, looksLikeFile, parseHubAddress, type LocalModelFile } from '../hub/run-targets.js';
import type { Repository } from '../store/repository.js';

export interface RunOptions {
  quant?: string;
  engine?: EngineChoice;
  port?: number;
  ctxSize?: number;
  threads?: number;
  /** Deployment name (default: the friendly name, else the model name). */
  name?: string;
  progress?: ProgressSink;
  onEvent?: (event: EngineEvent) => void;
  home?: string;
  /** --include/--exclude: which of the version's GGUF files to choose from. */
  select?: PathSelection;
  /** `--require-signed`: refuse a version no trusted key signed even when the repository's policy does not ask. */
  requireSigned?: boolean;
  /** Told when the pull waits for another command writing the version's folder in AIM_HOME (the MCP server's run). */
  onLockWait?: (line: string) => void;
}

export interface RunResult {
  record: DeploymentRecord;
  /** "Qwen 2.5 7B Instruct" for a friendly name, else the reference. */
  title: string;
  facts?: GgufFacts;
  /** How --quant auto chose. */
  fit?: QuantFit;
}

export interface Target {
  title: string;
  entry?: CatalogEntry;
  ref?: Reference;
  file?: LocalModelFile;
}

/** What the user named: a local GGUF file, a friendly name from the catalog (with its reference, if it maps to one) or a reference. */
export async function resolveTarget(session: Session, text: string): Promise<Target> {
  const catalog = buildCatalog(session.config.models, session.config.filepath);
  const entry = catalog.get(text);
  if (entry) return { title: entry.title, entry, ref: entry.ref ? parseReference(entry.ref) : undefined };
  const address = parseHubAddress(text);
  if (address) return { title: `hf.co/${address.hfRepo}`, entry: { name: address.hfRepo.split('/')[1]!.toLowerCase(), title: address.hfRepo, hfRepo: address.hfRepo, quant: address.quant } };
  if (await looksLikeFile(text)) {
    const file = await localModelFile(text);
    return { title: file.given, file, entry: { name: basename(file.given).replace(/\.gguf$/i, '').toLowerCase(), title: basename(file.given) } };
  }
  if (!text.includes('/')) {
    const near = suggestNames(text, [...catalog.keys()]);
    throw new NotFoundError(`"${text}" is neither a known model name nor a REPO/MODEL reference`, {
      hint: `${near.length > 0 ? `did you mean ${near.join(', ')}? ` : ''}\`aim run hf.co/ORG/REPO\` serves any GGUF repository; add your own names under models: in model_repos.yaml`,
    });
  }
  const ref = parseReference(text);
  return { title: formatReference(ref), ref };
}

export { servingFolder } from './serving-folder.js';

export interface ServingCopy {
  /** The reference as shown and served as the model id, e.g. "team/tiny:v1". */
  label: string;
  picked: PickedGguf;
  /** How --quant auto chose. */
  fit?: QuantFit;
}

/** The GGUF file(s) a reference serves, on disk in AIM_HOME (installed, or pulled now): what run and exec hand to an engine. */
export async function prepareServing(session: Session, ref: Reference, quant: string | undefined, options: ServedFilesOptions): Promise<ServingCopy> {
  const served = await fetchServedFiles(session, ref, quant, options);
  const label = formatReference(ref);
  const picked = await pickGguf(served.dest, { quant: served.quant, label }, served.candidates);
  return { label, picked, fit: served.fit };
}

const gpuChoice = (settings: { text(key: string): string | undefined }): 'auto' | 'off' => (settings.text('serve.gpu') === 'off' ? 'off' : 'auto');

export async function runModel(session: Session, text: string, options: RunOptions = {}): Promise<RunResult> {
  const home = options.home ?? aimHome();
  // The name becomes file names in AIM_HOME: checked before anything is resolved, pulled or started.
  if (options.name !== undefined) checkDeploymentName(options.name);
  const target = await resolveTarget(session, text);
  const name = checkDeploymentName(options.name ?? (target.entry ? target.entry.name : target.ref!.model));
  const settings = session.settings();
  const kind = chooseEngine(options.engine, settings);
  const quant = options.quant ?? target.entry?.quant;
  await claimName(name, home, session.config);
  // Before anything is pulled: a port that cannot be bound is refused now, not once the engine tries it.
  const host = settings.text('serve.host') as '127.0.0.1' | '0.0.0.0';
  const port = kind === 'embedded' ? await choosePort(options.port !== undefined ? { first: options.port, last: options.port } : settings.ports(), host) : undefined;
  if (options.requireSigned && !target.ref?.repo) {
    throw new UsageError(`${text} is not in one of your repositories, so aim cannot check who signed it`, { hint: 'push it to a repository, sign it there, and run REPO/MODEL:TAG' });
  }
  if (!target.ref && !target.file && kind === 'kamiwaza') return runFromHub(session, target, name, quant, options, home);
  const label = target.file ? target.file.given : target.ref ? formatReference(target.ref) : `hf.co/${target.entry!.hfRepo}`;
  let fit: QuantFit | undefined;
  let picked: PickedGguf;
  if (target.file) {
    // A local file is served where it is.
    picked = await pickGguf(target.file.folder, { quant, label }, target.file.names);
  } else {
    const { ref, repository, quant: wanted } = await versionToServe(target, quant, home, options.progress);
    const context = servedContext(settings, options.ctxSize);
    // A hub model was just downloaded with its own bar: copying it out of aim's hub repository is not shown again.
    ({ picked, fit } = await prepareServing(session, ref, wanted, { home, progress: repository ? undefined : options.progress, select: options.select, context, repository, quantIsDefault: options.quant === undefined, requireSigned: options.requireSigned, gpu: gpuChoice(settings), onLockWait: options.onLockWait }));
  }
  const engine = engineFor(kind, session.config, undefined, settings.text('kamiwaza.url'));
  const spec = {
    name, model: text, modelPath: picked.path, files: picked.files, modelId: label, quant: picked.quant, port, host,
    ctxSize: options.ctxSize ?? settings.number('serve.ctx-size'), threads: options.threads ?? settings.number('serve.threads'),
    parallel: settings.number('serve.parallel'), gpu: gpuChoice(settings), runDir: runDir(home),
  };
  const record = await startRecorded({
    initial: startingRecord(name, kind, text, label, picked.quant, picked.path), engine, home,
    start: (checkpoint) => engine.start(spec, options.onEvent, checkpoint),
  });
  return { record, title: target.title, facts: picked.facts, ...(fit ? { fit } : {}) };
}

/** The version to serve: the reference's, or one fetched from the hub into aim's own hub repository. */
async function versionToServe(target: Target, quant: string | undefined, home: string, progress?: ProgressSink): Promise<{ ref: Reference; repository?: Repository; quant?: string }> {
  if (target.ref) return { ref: target.ref, quant };
  const fetched = await fetchHubModel({ hfRepo: target.entry!.hfRepo!, quant, title: target.entry!.title }, home, progress);
  return { ref: { repo: fetched.repository.name, model: fetched.model, tag: fetched.tag }, repository: fetched.repository, quant: fetched.quant };
}

async function runFromHub(session: Session, target: Target, name: string, quant: string | undefined, options: RunOptions, home: string): Promise<RunResult> {
  const entry = target.entry!;
  const settings = session.settings();
  if (chooseEngine(options.engine, settings) !== 'kamiwaza') {
    throw new UsageError(`${entry.name} is not in any aim repository (it names ${entry.hfRepo} on Hugging Face)`, {
      hint: `deploy it through Kamiwaza (set KAMIWAZA_BASE_URL and use --engine kamiwaza), or push the GGUF to a repository and map it under models: in model_repos.yaml`,
    });
  }
  const engine = engineFor('kamiwaza', session.config, undefined, settings.text('kamiwaza.url')) as KamiwazaEngine;
  const names = (await hubFiles(engine, entry.hfRepo!)).map((f) => f.name);
  const selection = selectGgufFiles(names, { quant, label: entry.hfRepo });
  const spec = { name, model: entry.name, hfRepo: entry.hfRepo!, quant: selection.quant ?? 'unknown', files: selection.files };
  const record = await startRecorded({
    initial: startingRecord(name, 'kamiwaza', entry.name, entry.hfRepo!, spec.quant, `hf://${entry.hfRepo}/${selection.files[0]}`), engine, home,
    start: (checkpoint) => startFromHub(engine, spec, options.onEvent, checkpoint),
  });
  return { record, title: target.title };
}

function startingRecord(name: string, engine: EngineKind, model: string, modelId: string, quant: string, modelPath: string): DeploymentRecord {
  return { name, state: 'starting', engine, model, modelId, quant, modelPath, endpoint: '', startedAt: new Date().toISOString() };
}

