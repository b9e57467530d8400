// The PRD's flow for a friendly name that is in no aim repository: Kamiwaza downloads the chosen quantization's
// files from Hugging Face itself (POST /models/download/), we show its progress from /model_files/download_status/,
// then deploy as for any model. Which files make up the quantization is decided by the caller (core), the same way
// it picks GGUF files in a pulled aim version.
import { EngineError } from '../../lib/errors.js';
import type { Checkpoint, DeploymentRecord, EngineEvent } from '../engine.js';
import type { KamiwazaEngine } from './kamiwaza.js';
import { pollUntil } from '../../lib/poll.js';
import { KzDownloadReplySchema, KzDownloadStatusListSchema, KzModelFileListSchema, KzModelListSchema, type KzModel } from './kamiwaza-types.js';

/** Kamiwaza's name for the Hugging Face hub; some server builds answer 500 to "hf". */
export const HF_HUB = 'HubsHf';

export interface HubDeploySpec {
  name: string;
  /** What the user typed (the friendly name). */
  model: string;
  hfRepo: string;
  quant: string;
  /** File names in the hub repository, first shard first. */
  files: string[];
}

/** The files of a Hugging Face repository as Kamiwaza sees them. */
export async function hubFiles(engine: KamiwazaEngine, hfRepo: string): Promise<Array<{ name: string; size?: number }>> {
  const { body } = await engine.http.call('POST', '/model_files/search/', KzModelFileListSchema, { body: { hub: HF_HUB, model: hfRepo } });
  return body.map((f) => ({ name: f.name, size: f.size ?? undefined }));
}

async function findModel(engine: KamiwazaEngine, hfRepo: string): Promise<(KzModel & { id: string }) | undefined> {
  const { body } = await engine.http.call('GET', '/models/', KzModelListSchema, { query: { load_files: true } });
  return body.find((m) => m.id && m.repo_modelId === hfRepo) as (KzModel & { id: string }) | undefined;
}

function hasAll(model: KzModel | undefined, files: string[]): boolean {
  return files.every((name) => model?.m_files?.some((f) => f.name === name && f.download && !f.is_downloading));
}

function waitDownloaded(engine: KamiwazaEngine, spec: HubDeploySpec, onEvent?: (event: EngineEvent) => void): Promise<void> {
  return pollUntil<void>(async () => {
    // The status operation takes no filter in API 1.2, so we pick our files out of all current downloads.
    const { body } = await engine.http.call('GET', '/model_files/download_status/', KzDownloadStatusListSchema);
    const ours = body.filter((s) => spec.files.includes(s.name));
    const percent = ours.length === 0 ? 100 : ours.reduce((sum, s) => sum + (s.download_percentage ?? 0), 0) / ours.length;
    onEvent?.({ phase: 'download', message: `downloading ${spec.hfRepo} (${spec.quant})`, percent: Math.round(percent) });
    return ours.every((s) => !s.is_downloading) ? { done: true, value: undefined } : { done: false };
  }, {
    intervalMs: engine.pollMs, timeoutMs: engine.timeoutMs,
    onTimeout: () => new EngineError(`Kamiwaza is still downloading ${spec.hfRepo} after ${engine.timeoutMs / 1000} s`, {
      hint: 'the download continues on the server: run the same command again later',
    }),
  });
}

/** Downloads (unless Kamiwaza already has the files) and deploys a Hugging Face GGUF quantization. */
export async function startFromHub(engine: KamiwazaEngine, spec: HubDeploySpec, onEvent?: (event: EngineEvent) => void,
  checkpoint?: Checkpoint): Promise<DeploymentRecord> {
  await engine.preflight();
  if (!hasAll(await findModel(engine, spec.hfRepo), spec.files)) {
    onEvent?.({ phase: 'download', message: `downloading ${spec.hfRepo} (${spec.quant})`, percent: 0 });
    const { body } = await engine.http.call('POST', '/models/download/', KzDownloadReplySchema, {
      // deploy_after_download defaults to true in the schema; we deploy ourselves, with llama.cpp and our config.
      body: { model: spec.hfRepo, hub: HF_HUB, files_to_download: spec.files, deploy_after_download: false },
    });
    if (body.result === false) {
      throw new EngineError(`Kamiwaza did not start the download of ${spec.hfRepo}: ${body.message ?? 'no reason given'}`, {
        hint: 'check the repository name and that the server can reach huggingface.co',
      });
    }
    await waitDownloaded(engine, spec, onEvent);
  }
  const model = await findModel(engine, spec.hfRepo);
  if (!model || !hasAll(model, spec.files)) {
    throw new EngineError(`Kamiwaza reports the download of ${spec.hfRepo} finished, but not all of ${spec.files.join(', ')} are there`, {
      hint: 'retry; if it persists, look at the model in the Kamiwaza UI',
    });
  }
  const fileId = model.m_files?.find((f) => f.name === spec.files[0])?.id ?? undefined;
  return engine.deploy({ name: spec.name, model: spec.model, modelPath: `hf://${spec.hfRepo}/${spec.files[0]}`, quant: spec.quant }, { model, fileId }, onEvent, checkpoint);
}
