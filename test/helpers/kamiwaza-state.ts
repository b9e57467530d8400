// The Kamiwaza stand-in's state machine: models with their files, configs, hub downloads that advance on every
// status poll, and deployments that go REQUESTED -> DEPLOYING -> DEPLOYED (or FAILED when told to) one step per
// read, the way the real server's background launch shows up to a polling client.
import { randomUUID } from 'node:crypto';
import type { MatchedOperation } from './openapi-contract.js';

export interface Reply {
  status: number;
  body: unknown;
}

type Json = Record<string, unknown>;
const now = (): string => new Date().toISOString();

export interface HubFile {
  name: string;
  size: number;
}

export class KamiwazaState {
  models: Json[] = [];
  configs: Json[] = [];
  deployments: Json[] = [];
  /** Files the fake Hugging Face hub has, by repo id. */
  hub = new Map<string, HubFile[]>();
  /** The next deployment fails with this error instead of deploying. */
  failNextDeployment?: { code: string; message: string };
  /** Percentage a download advances per status poll. */
  downloadStep = 40;
  /** While true, deployments stay DEPLOYING: a deploy that never finishes, to interrupt `aim run` midway. */
  holdDeployments = false;

  dispatch(op: MatchedOperation, query: URLSearchParams, body: unknown): Reply {
    const key = `${op.method.toUpperCase()} ${op.template}`;
    const b = (body ?? {}) as Json;
    const id = op.pathParams.model_id ?? op.pathParams.deployment_id ?? '';
    switch (key) {
      case 'GET /auth/users/me': return ok({ username: 'aim-test', sub: 'user-1', email: null, groups: [], roles: ['user'] });
      case 'GET /models/': return ok(this.models.map((m) => (query.get('load_files') === 'true' ? m : { ...m, m_files: [] })));
      case 'GET /models/{model_id}': return this.find(this.models, id) ?? notFound('Model not found');
      case 'POST /models/': return ok(this.createModel(b));
      case 'POST /model_files/search/': return this.hubSearch(b);
      case 'POST /models/download/': return this.download(b);
      case 'GET /model_files/download_status/': return ok(this.downloadStatus());
      case 'GET /model_configs/': return ok(this.configs.filter((c) => c.m_id === query.get('model_id')));
      case 'POST /model_configs/': return this.createConfig(b);
      case 'POST /serving/deploy_model': return this.deploy(b);
      case 'GET /serving/deployments':
        return ok(this.deployments.filter((d) => !query.get('model_id') || d.m_id === query.get('model_id')).map((d) => this.advance(d)));
      case 'GET /serving/deployment/{deployment_id}': {
        const d = this.find(this.deployments, id);
        return d ? ok(this.advance(d.body as Json)) : notFound('Deployment not found');
      }
      case 'DELETE /serving/deployment/{deployment_id}': {
        const d = this.find(this.deployments, id);
        if (!d) return notFound('Deployment not found');
        Object.assign(d.body as Json, { status: 'STOPPED', instances: [] });
        return ok(true);
      }
      default: return { status: 501, body: { detail: `the stand-in does not implement ${key}` } };
    }
  }

  private find(list: Json[], id: string): Reply | undefined {
    const item = list.find((x) => x.id === id);
    return item ? ok(item) : undefined;
  }

  private file(f: Json, modelId: string, extra: Json = {}): Json {
    return {
      id: randomUUID(), name: f.name, size: f.size ?? null, storage_type: f.storage_type ?? null,
      storage_host: f.storage_host ?? 'localhost', storage_location: f.storage_location ?? null, hub: f.hub ?? null,
      model_id: modelId, created_timestamp: now(), is_downloading: false, download: false, ...extra,
    };
  }

  createModel(b: Json, extra: Json = {}): Json {
    const id = randomUUID();
    const model: Json = {
      ...b, id, hosted: 'local', created_timestamp: now(), modified_timestamp: null, files_being_downloaded: [],
      m_files: ((b.m_files as Json[] | undefined) ?? []).map((f) => this.file(f, id)), ...extra,
    };
    this.models.push(model);
    return model;
  }

  private hubSearch(b: Json): Reply {
    if (b.hub !== 'HubsHf') return { status: 500, body: { detail: `unknown hub ${String(b.hub)}` } };
    const files = this.hub.get(String(b.model));
    if (!files) return notFound(`repository ${String(b.model)} not found on the hub`);
    return ok(files.map((f) => this.file({ ...f, hub: 'HubsHf' }, '00000000-0000-0000-0000-000000000000')));
  }

  private download(b: Json): Reply {
    const files = this.hub.get(String(b.model));
    if (!files) return notFound(`repository ${String(b.model)} not found on the hub`);
    const wanted = (b.files_to_download as string[] | null | undefined) ?? files.map((f) => f.name);
    const unknown = wanted.filter((w) => !files.some((f) => f.name === w));
    if (unknown.length > 0) return { status: 400, body: { detail: `files not in ${String(b.model)}: ${unknown.join(', ')}` } };
    let model = this.models.find((m) => m.repo_modelId === b.model);
    model ??= this.createModel({ name: String(b.model), repo_modelId: b.model, hub: 'HubsHf', m_files: [] });
    const ids: string[] = [];
    for (const name of wanted) {
      const size = files.find((f) => f.name === name)!.size;
      const f = this.file({ name, size, hub: 'HubsHf', storage_type: 'file' }, String(model.id),
        { download: true, is_downloading: true, download_percentage: 0, dl_requested_at: now() });
      (model.m_files as Json[]).push(f);
      ids.push(String(f.id));
    }
    return ok({ result: true, message: `download of ${wanted.length} file(s) started`, files: ids });
  }

  private downloadStatus(): Json[] {
    const out: Json[] = [];
    for (const model of this.models) {
      for (const f of model.m_files as Json[]) {
        if (!f.download || !f.is_downloading) continue;
        const percentage = Math.min(100, Number(f.download_percentage ?? 0) + this.downloadStep);
        Object.assign(f, { download_percentage: percentage, is_downloading: percentage < 100 });
        if (percentage === 100) f.storage_location = `/opt/kamiwaza/models/${String(model.repo_modelId)}/${String(f.name)}`;
        out.push({
          id: f.id, m_id: model.id, name: f.name, download: true, is_downloading: f.is_downloading,
          download_percentage: percentage, storage_location: f.storage_location ?? null, dl_requested_at: f.dl_requested_at,
        });
      }
    }
    return out;
  }

  private createConfig(b: Json): Reply {
    if (!this.models.some((m) => m.id === b.m_id)) return notFound('Model not found');
    const config = { config: {}, system_config: {}, ...b, id: randomUUID(), kamiwaza_version: '1.2.0', created_at: now(), modified_at: null };
    this.configs.push(config);
    return ok(config);
  }

  private deploy(b: Json): Reply {
    const model = this.models.find((m) => m.id === b.m_id);
    if (!model) return notFound('Model not found');
    if (!this.configs.some((c) => c.id === b.m_config_id)) return notFound('Model config not found');
    if (b.m_file_id && !(model.m_files as Json[]).some((f) => f.id === b.m_file_id)) return notFound('Model file not found');
    const id = randomUUID();
    const failure = this.failNextDeployment;
    this.failNextDeployment = undefined;
    this.deployments.push({
      ...b, id, m_name: model.name, status: 'REQUESTED', requested_at: now(), created_at: now(), deployed_at: null,
      instances: [], features: [], capabilities: ['chat'], lb_port: 0, canonical_model_id: model.name, failure,
    });
    return { status: 202, body: id };
  }

  /** One step of the launch per read; returns the public view (without the test-only failure field). */
  private advance(d: Json): Json {
    const next: Record<string, string> = this.holdDeployments ? { REQUESTED: 'DEPLOYING' } : { REQUESTED: 'DEPLOYING', DEPLOYING: d.failure ? 'FAILED' : 'DEPLOYED' };
    const status = String(d.status);
    if (next[status]) {
      d.status = next[status];
      const failure = d.failure as { code: string; message: string } | undefined;
      if (d.status === 'FAILED' && failure) Object.assign(d, { last_error_code: failure.code, last_error_message: failure.message, last_error_at: now() });
      if (d.status === 'DEPLOYED') {
        Object.assign(d, { deployed_at: now(), access_path: `/runtime/models/${String(d.id)}`, serve_path: '/v1' });
        d.instances = [{ id: randomUUID(), deployment_id: d.id, deployed_at: now(), status: 'DEPLOYED', listen_port: 51100, host_name: 'node-1' }];
      }
    }
    const { failure: _hidden, ...view } = d;
    return view;
  }
}

const ok = (body: unknown): Reply => ({ status: 200, body });
const notFound = (detail: string): Reply => ({ status: 404, body: { detail } });
