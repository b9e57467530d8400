// A model from the Hugging Face hub into aim's own hub repository (AIM_HOME/hub-repo, a local repository made on
// first use): only the chosen quantization's file(s), downloaded resumably and checked against the hub's sha256,
// then pushed (chunked, deduplicated) and tagged. From there `run` serves it like any version, and `aim push` to a
// team repository moves only the chunks the team lacks. The tag records the hub's sha256s: a rerun whose listing
// still has them downloads nothing.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { openBackend } from '../../backends/index.js';
import { NotFoundError } from '../../lib/errors.js';
import { hubEnv } from '../../settings/hub.js';
import { DEFAULT_CHUNKING } from '../chunking/chunker.js';
import { silentProgress, type ProgressSink } from '../progress.js';
import { selectGgufFiles } from '../serve/gguf-pick.js';
import { Repository } from '../store/repository.js';
import { resolveVersion } from '../store/resolve.js';
import { push } from '../transfer/push.js';
import { listHubFiles, type HubFile } from './hub-api.js';
import { downloadHubFile } from './hub-download.js';
import { HubHttp } from './hub-http.js';

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
  const path = join(home, 'hub-repo');
  await mkdir(path, { recursive: true });
  return new Repository(HUB_REPOSITORY, await openBackend({ type: 'local', path }), 8, true, DEFAULT_CHUNKING);
}

/** "Qwen/Qwen2.5-7B-Instruct-GGUF" -> "qwen--qwen2.5-7b-instruct-gguf": a model name that keeps the owner. */
export function hubModelName(hfRepo: string): string {
  return hfRepo.toLowerCase().replace('/', '--');
}

export async function fetchHubModel(wanted: HubModel, home: string, progress: ProgressSink = silentProgress): Promise<FetchedHubModel> {
  const http = new HubHttp(hubEnv());
  const listing = await listHubFiles(http, wanted.hfRepo);
  const selection = selectGgufFiles(listing.map((f) => f.name), { quant: wanted.quant, label: `hf.co/${wanted.hfRepo}` });
  const files = selection.files.map((name) => listing.find((f) => f.name === name)!);
  const unchecked = files.find((f) => !f.sha256);
  if (unchecked) throw new NotFoundError(`the hub publishes no sha256 for ${wanted.hfRepo}/${unchecked.name}`, { hint: 'aim serves hub files only when it can check them; download it yourself and `aim run ./FILE`' });
  const repository = await openHubRepository(home);
  const model = hubModelName(wanted.hfRepo);
  const tag = (selection.quant ?? 'default').toLowerCase();
  const shas = files.map((f) => `${f.name}=${f.sha256}`).join(',');
  if (await holds(repository, model, tag, shas)) return { repository, model, tag, quant: selection.quant, downloaded: 0 };

  const staging = join(home, 'hub-downloads', model, tag);
  const total = files.reduce((sum, f) => sum + f.size, 0);
  const task = progress.begin(`🚀 Downloading ${wanted.title}...`, total);
  let downloaded = 0;
  try {
    for (const file of files) {
      await downloadHubFile(http, wanted.hfRepo, file, join(staging, file.name), { ...task, advance: (n) => { downloaded += n; task.advance(n); } });
    }
  } finally {
    task.end();
  }
  // The download bar is the progress the user asked for; storing the checked files is aim's own bookkeeping.
  await push(repository, staging, { model, tag, force: true, annotations: { [SHA_ANNOTATION]: shas, [REPO_ANNOTATION]: wanted.hfRepo } });
  await rm(staging, { recursive: true, force: true });
  return { repository, model, tag, quant: selection.quant, downloaded };
}

async function holds(repository: Repository, model: string, tag: string, shas: string): Promise<boolean> {
  const version = await resolveVersion(repository, { model, tag }).catch((error: unknown) => {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  });
  return version?.manifest.annotations?.[SHA_ANNOTATION] === shas;
}

export type { HubFile };
