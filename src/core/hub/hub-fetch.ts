// A model from the Hugging Face hub into aim's own hub repository (AIM_HOME/hub-repo, a local repository made on
// first use): only the chosen quantization's file(s), chunked and hashed as they arrive (hub-stream.ts), so the
// download is the push: deduplicated, resumable after kill -9, and checked against the hub's sha256 before the tag is
// written. From there `run` serves it like any version (one plain copy, installed from the packs), and `aim push` to
// a team repository moves only the chunks the team lacks. The tag records the hub's sha256s: a rerun whose listing
// still has them downloads nothing.
import { openBackend } from '../../backends/index.js';
import { NotFoundError } from '../../lib/errors.js';
import { realFolder } from '../../lib/safe-fs.js';
import { hubCheckpointBytes, hubEnv } from '../../settings/hub.js';
import { DEFAULT_CHUNKING } from '../chunking/chunker.js';
import { silentProgress, type ProgressSink } from '../progress.js';
import { selectGgufFiles } from '../serve/gguf-pick.js';
import { Repository } from '../store/repository.js';
import { resolveVersion } from '../store/resolve.js';
import { pushStreams, type StreamedFile } from '../transfer/push-stream.js';
import { listHubFiles, type HubFile } from './hub-api.js';
import { HubHttp } from './hub-http.js';
import { downloadsFolder, journalPath, lockDownload, removeJournal } from './hub-journal.js';
import { hubFileChunks } from './hub-stream.js';

export const HUB_REPOSITORY = 'hub';
const SHA_ANNOTATION = 'org.huggingface.sha256';
const REPO_ANNOTATION = 'org.huggingface.repo';

export interface HubModel {
  hfRepo: string;
  quant?: string;
  /** "Qwen 2.5 7B Instruct", for the progress line. */
  title: string;
}

export interface FetchedHubModel {
  repository: Repository;
  model: string;
  tag: string;
  quant?: string;
  /** Bytes downloaded from the hub by this run (0 when the hub repository had the version). */
  downloaded: number;
}

/** aim's own repository of models fetched from the hub, created on first use. */
export async function openHubRepository(home: string): Promise<Repository> {
  // A link planted at its name would store the models wherever it points.
  const path = await realFolder(home, ['hub-repo'], { create: true });
  return new Repository(HUB_REPOSITORY, await openBackend({ type: 'local', path }), 8, true, DEFAULT_CHUNKING);
}

/** "Qwen/Qwen2.5-7B-Instruct-GGUF" -> "qwen--qwen2.5-7b-instruct-gguf": a model name that keeps the owner. */
export function hubModelName(hfRepo: string): string {
  return hfRepo.toLowerCase().replace('/', '--');
}

export async function fetchHubModel(wanted: HubModel, home: string, progress: ProgressSink = silentProgress): Promise<FetchedHubModel> {
  const http = new HubHttp(await hubEnv());
  const listing = await listHubFiles(http, wanted.hfRepo);
  const selection = selectGgufFiles(listing.map((f) => f.name), { quant: wanted.quant, label: `hf.co/${wanted.hfRepo}` });
  const files = selection.files.map((name) => listing.find((f) => f.name === name)!);
  const unchecked = files.find((f) => !f.sha256);
  if (unchecked) throw new NotFoundError(`the hub publishes no sha256 for ${wanted.hfRepo}/${unchecked.name}`, { hint: 'aim serves hub files only when it can check them; download it yourself and `aim run ./FILE`' });
  const repository = await openHubRepository(home);
  const model = hubModelName(wanted.hfRepo);
  const tag = (selection.quant ?? 'default').toLowerCase();
  const shas = files.map((f) => `${f.name}=${f.sha256}`).join(',');
  const fetched = { repository, model, tag, quant: selection.quant };
  if (await holds(repository, model, tag, shas)) return { ...fetched, downloaded: 0 };

  const downloaded = await downloadInto(repository, { http, hfRepo: wanted.hfRepo, files, model, tag, home, title: wanted.title }, progress);
  return { ...fetched, downloaded };
}

export interface HubDownload {
  http: HubHttp;
  hfRepo: string;
  files: HubFile[];
  model: string;
  tag: string;
  home: string;
  title: string;
  /** How often what was stored is made durable and journalled; the setting's (64 MiB) when unset. */
  checkpointBytes?: number;
}

/**
 * Streams the files into `repository` as version MODEL:TAG, resuming what a killed run stored (its journals under
 * AIM_HOME/hub-downloads); returns the bytes received from the hub.
 */
export async function downloadInto(repository: Repository, d: HubDownload, progress: ProgressSink = silentProgress): Promise<number> {
  const folder = await downloadsFolder(d.home, d.model, d.tag);
  const journals = d.files.map((file) => journalPath(folder, file));
  const unlocks: Array<() => Promise<void>> = [];
  let downloaded = 0;
  try {
    for (const [index, file] of d.files.entries()) unlocks.push(await lockDownload(journals[index]!, `${d.hfRepo}/${file.name}`));
    const checkpointBytes = d.checkpointBytes ?? hubCheckpointBytes();
    const streamed: StreamedFile[] = d.files.map((file, index) => ({
      path: file.name,
      size: file.size,
      label: `hf.co/${d.hfRepo}/${file.name}`,
      chunks: (store) => hubFileChunks({ http: d.http, repo: d.hfRepo, file, journal: journals[index]!, checkpointBytes, received: (n) => (downloaded += n) }, store),
    }));
    const task = progress.begin(`🚀 Downloading ${d.title}...`, d.files.reduce((sum, f) => sum + f.size, 0));
    const shas = d.files.map((f) => `${f.name}=${f.sha256}`).join(',');
    await pushStreams(repository, streamed, { model: d.model, tag: d.tag, force: true, annotations: { [SHA_ANNOTATION]: shas, [REPO_ANNOTATION]: d.hfRepo }, task });
    for (const journal of journals) await removeJournal(journal);
  } finally {
    for (const unlock of unlocks) await unlock();
  }
  return downloaded;
}

async function holds(repository: Repository, model: string, tag: string, shas: string): Promise<boolean> {
  const version = await resolveVersion(repository, { model, tag }).catch((error: unknown) => {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  });
  return version?.manifest.annotations?.[SHA_ANNOTATION] === shas;
}

export type { HubFile };
