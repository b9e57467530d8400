// The Kamiwaza engine: hands a model to a Kamiwaza server and lets it serve it (llama.cpp for GGUF). Two ways in:
// a GGUF aim already pulled is registered as a model whose file lives at a local path (storage_type "file"; the
// serving node must see that path, so this suits single-node installs or shared storage), or, for a friendly name
// that is in no aim repository, Kamiwaza downloads the quantization's files from Hugging Face itself
// (kamiwaza-hub.ts). Then both find or create a config, deploy, and poll until DEPLOYED or a failure status.
import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { EngineError } from '../../lib/errors.js';
import { pollUntil } from '../../lib/poll.js';
import type { Checkpoint, DeploymentRecord, DeploymentSpec, Engine, EngineEvent, LiveDeployment, StopOutcome } from '../engine.js';
import { KamiwazaHttp, KamiwazaStatusError, type KamiwazaSettings } from './kamiwaza-http.js';
import { endpointOf } from './kamiwaza-endpoint.js';
import {
  FAILED_STATUSES, GONE_STATUSES, KzConfigListSchema, KzConfigSchema, KzDeleteReplySchema, KzDeploymentListSchema, KzDeploymentSchema,
  KzDeployReplySchema, KzModelListSchema, KzModelSchema, KzUserSchema, type KzDeployment, type KzModel,
} from './kamiwaza-types.js';
import type { KamiwazaLimits } from '../../settings/kamiwaza.js';

export interface KamiwazaEngineOptions {
  settings: KamiwazaSettings;
  /** Between status polls (default 2 s; the SDK uses 5 s). */
  pollMs?: number;
  /** For a deployment to reach DEPLOYED, and for a download to finish (default 600 s, as the SDK). */
  timeoutMs?: number;
  /** storage_host of registered files: "localhost" on community edition, the node's host name on a cluster. */
  storageHost?: string;
  /** Per-request deadline and reply cap (default: from the settings). */
  limits?: Partial<KamiwazaLimits>;
}

export interface DeployTarget {
  model: KzModel & { id: string };
  fileId?: string;
}

type DeploySpec = Pick<DeploymentSpec, 'name' | 'model' | 'modelPath' | 'quant'>;

export class KamiwazaEngine implements Engine {
  readonly kind = 'kamiwaza' as const;
  readonly http: KamiwazaHttp;
  readonly pollMs: number;
  readonly timeoutMs: number;

  constructor(private readonly options: KamiwazaEngineOptions) {
    this.http = new KamiwazaHttp(options.settings, options.limits);
    this.pollMs = options.pollMs ?? 2000;
    this.timeoutMs = options.timeoutMs ?? 600_000;
  }

  /** Fails early, with the server's own words, when the server is unreachable or the key is wrong. */
  async preflight(): Promise<void> {
    await this.http.call('GET', '/auth/users/me', KzUserSchema);
  }

  async start(spec: DeploymentSpec, onEvent?: (event: EngineEvent) => void, checkpoint?: Checkpoint): Promise<DeploymentRecord> {
    await this.preflight();
    onEvent?.({ phase: 'register', message: `registering ${basename(spec.modelPath)} with Kamiwaza` });
    const model = await this.registerLocal(spec);
    const first = model.m_files?.find((f) => f.storage_location === spec.modelPath);
    return this.deploy(spec, { model, fileId: first?.id ?? undefined }, onEvent, checkpoint);
  }

  /** The model already registered for this exact file, else a new one with every shard as an m_files entry. */
  private async registerLocal(spec: DeploymentSpec): Promise<KzModel & { id: string }> {
    const { body: models } = await this.http.call('GET', '/models/', KzModelListSchema, { query: { load_files: true } });
    const existing = models.find((m) => m.id && m.m_files?.some((f) => f.storage_type === 'file' && f.storage_location === spec.modelPath));
    if (existing) return existing as KzModel & { id: string };
    const files = await Promise.all((spec.files ?? [spec.modelPath]).map(async (path) => ({
      name: basename(path), size: (await stat(path)).size, storage_type: 'file', storage_host: this.options.storageHost ?? 'localhost',
      storage_location: path,
    })));
    const { body } = await this.http.call('POST', '/models/', KzModelSchema, {
      body: { name: spec.modelId, repo_modelId: spec.modelId, hub: null, quantization_details: spec.quant,
        description: `registered by aim from ${spec.model}`, m_files: files },
    });
    if (!body.id) throw new EngineError(`Kamiwaza created model ${spec.modelId} without an id`, { hint: 'check the Kamiwaza server version (aim expects API 1.2)' });
    return body as KzModel & { id: string };
  }

  async findOrCreateConfig(modelId: string, fileId?: string): Promise<string> {
    const { body: configs } = await this.http.call('GET', '/model_configs/', KzConfigListSchema, { query: { model_id: modelId } });
    const chosen = configs.find((c) => c.default) ?? configs[0];
    if (chosen) return chosen.id;
    const { body } = await this.http.call('POST', '/model_configs/', KzConfigSchema, {
      body: { m_id: modelId, m_file_id: fileId ?? null, name: 'aim default', default: true, config: {}, system_config: {} },
    });
    return body.id;
  }

  /**
   * Deploys with llama.cpp and waits for DEPLOYED; failure statuses become errors carrying Kamiwaza's own reason.
   * The record is checkpointed before the deploy request, with a tag that the request puts in the deployment's
   * runtime_env, and again with the id Kamiwaza answers: a run interrupted at any point, even before the answer
   * arrived, leaves a record that finds the remote deployment.
   */
  async deploy(spec: DeploySpec, target: DeployTarget, onEvent?: (event: EngineEvent) => void, checkpoint?: Checkpoint): Promise<DeploymentRecord> {
    const configId = await this.findOrCreateConfig(target.model.id, target.fileId);
    const starting: DeploymentRecord = {
      name: spec.name, state: 'starting', engine: 'kamiwaza', model: spec.model, modelId: target.model.name, quant: spec.quant,
      modelPath: spec.modelPath, endpoint: '', startedAt: new Date().toISOString(),
      kamiwaza: { baseUrl: this.options.settings.baseUrl, modelId: target.model.id, requestTag: randomUUID() },
    };
    await checkpoint?.(starting);
    onEvent?.({ phase: 'deploy', message: `deploying ${target.model.name} with llama.cpp` });
    const { body: deploymentId } = await this.http.call('POST', '/serving/deploy_model', KzDeployReplySchema, {
      body: { m_id: target.model.id, m_config_id: configId, m_file_id: target.fileId ?? null, engine_name: 'llamacpp',
        lb_port: 0, min_copies: 1, starting_copies: 1, runtime_env: { [TAG_VARIABLE]: starting.kamiwaza!.requestTag! } },
    });
    if (typeof deploymentId !== 'string') {
      throw new EngineError(`Kamiwaza refused to deploy ${target.model.name}`, { hint: 'see the Kamiwaza UI or server logs for the reason' });
    }
    const deployed = { ...starting, kamiwaza: { ...starting.kamiwaza!, deploymentId } };
    await checkpoint?.(deployed);
    const deployment = await this.waitDeployed(deploymentId, onEvent);
    return {
      ...deployed, state: 'ready', modelId: deployment.canonical_model_id ?? deployment.m_name ?? target.model.name,
      endpoint: endpointOf(this.options.settings.baseUrl, deployment), startedAt: new Date().toISOString(),
    };
  }

  private waitDeployed(id: string, onEvent?: (event: EngineEvent) => void): Promise<KzDeployment> {
    let last = '';
    return pollUntil<KzDeployment>(async () => {
      const { body: d } = await this.http.call('GET', `/serving/deployment/${id}`, KzDeploymentSchema);
      const status = d.status ?? 'UNINITIALIZED';
      if (status !== last) onEvent?.({ phase: 'deploy', message: `deployment ${status.toLowerCase()}` });
      last = status;
      if (status === 'DEPLOYED') return { done: true, value: d };
      if (FAILED_STATUSES.has(status) || GONE_STATUSES.has(status)) {
        const code = d.last_error_code ? `${d.last_error_code}: ` : '';
        throw new EngineError(`Kamiwaza deployment ${id} ${status}: ${code}${d.last_error_message ?? 'no reason given'}`, {
          hint: hintFor(d.last_error_code) + ` (details: GET /serving/deployment/${id}/logs)`,
        });
      }
      return { done: false };
    }, {
      intervalMs: this.pollMs, timeoutMs: this.timeoutMs,
      onTimeout: () => new EngineError(`Kamiwaza deployment ${id} is still ${last} after ${this.timeoutMs / 1000} s`, {
        hint: 'aim stopped it; run again, or look at the node\'s load in the Kamiwaza UI',
      }),
    });
  }

  async list(records: DeploymentRecord[]): Promise<LiveDeployment[]> {
    if (records.length === 0) return [];
    const { body } = await this.http.call('GET', '/serving/deployments', KzDeploymentListSchema);
    return records.map((record) => {
      const d = findDeployment(body, record);
      const status = d?.status ?? 'STOPPED';
      if (status === 'DEPLOYED') return { ...record, status: 'running' };
      if (GONE_STATUSES.has(status)) return { ...record, status: 'stopped' };
      if (FAILED_STATUSES.has(status)) return { ...record, status: 'failed', detail: `${d?.last_error_code ?? status}: ${d?.last_error_message ?? ''}`.trim() };
      return { ...record, status: 'starting' };
    });
  }

  /** The record's deployment id: as Kamiwaza answered it, else found by the tag aim sent with the request. */
  private async deploymentIdOf(record: DeploymentRecord): Promise<string | undefined> {
    const { deploymentId, modelId, requestTag } = record.kamiwaza ?? {};
    if (deploymentId || !requestTag || !modelId) return deploymentId;
    const { body } = await this.http.call('GET', '/serving/deployments', KzDeploymentListSchema, { query: { model_id: modelId } });
    return findDeployment(body, record)?.id;
  }

  async stop(record: DeploymentRecord): Promise<StopOutcome> {
    const id = await this.deploymentIdOf(record);
    if (!id) return 'gone';
    try {
      await this.http.call('DELETE', `/serving/deployment/${id}`, KzDeleteReplySchema, { query: { force: false } });
    } catch (error) {
      if (error instanceof KamiwazaStatusError && error.status === 404) return 'gone';
      throw error;
    }
    return pollUntil<StopOutcome>(async () => {
      const d = await this.http.call('GET', `/serving/deployment/${id}`, KzDeploymentSchema).then((r) => r.body, (error: unknown) => {
        if (error instanceof KamiwazaStatusError && error.status === 404) return undefined;
        throw error;
      });
      return !d || GONE_STATUSES.has(d.status ?? '') ? { done: true, value: 'stopped' } : { done: false };
    }, {
      intervalMs: this.pollMs, timeoutMs: this.timeoutMs,
      onTimeout: () => new EngineError(`Kamiwaza deployment ${id} did not stop within ${this.timeoutMs / 1000} s`, { hint: 'check it in the Kamiwaza UI' }),
    });
  }
}

/** runtime_env variable that marks a deployment as the one a record asked for; harmless to the engine. */
const TAG_VARIABLE = 'AIM_DEPLOYMENT_TAG';

function findDeployment(deployments: KzDeployment[], record: DeploymentRecord): KzDeployment | undefined {
  const { deploymentId, requestTag } = record.kamiwaza ?? {};
  if (deploymentId) return deployments.find((d) => d.id === deploymentId);
  return requestTag ? deployments.find((d) => d.runtime_env?.[TAG_VARIABLE] === requestTag) : undefined;
}

function hintFor(code: string | null | undefined): string {
  switch (code) {
    case 'OOM': return 'the model does not fit in the node\'s memory: pick a smaller quantization with --quant (e.g. q4_k_m)';
    case 'MUST_REDOWNLOAD': return 'the weights are missing on the serving node: run again so they are downloaded or registered again';
    case 'MODEL_LOADING_FAILURE': return 'llama.cpp could not load the file: check it with `aim run --engine embedded`';
    case 'STARTUP_TIMEOUT': return 'the engine took too long to start: retry, or check the node\'s load';
    default: return 'see the deployment\'s logs in the Kamiwaza UI';
  }
}
