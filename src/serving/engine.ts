// What every serving engine offers `run`, `ps` and `stop`. The record an engine returns from start() is what aim
// keeps in $AIM_HOME/deployments/<name>.json (core/deployments.ts stores it; engines never touch that folder), and
// it must hold everything the same engine needs later to report on or stop the deployment from another process.

export type EngineKind = 'embedded' | 'kamiwaza';

export interface DeploymentSpec {
  /** Deployment name, unique among running deployments; `aim stop NAME` uses it. */
  name: string;
  /** What the user asked for (a reference or a friendly name), shown by `ps`. */
  model: string;
  /** Absolute path of the GGUF (the first shard when split). */
  modelPath: string;
  /** Every file of the model, shards in order; defaults to [modelPath]. Remote engines register them all. */
  files?: string[];
  /** Model id served on /v1/models and expected in requests, e.g. "team/tiny:v1". */
  modelId: string;
  quant: string;
  /** 0 or undefined: any free port. */
  port?: number;
  ctxSize?: number;
  threads?: number;
  /** Where an engine may keep logs and run files for this deployment (inside AIM_HOME). */
  runDir: string;
}

export interface DeploymentRecord {
  name: string;
  engine: EngineKind;
  model: string;
  modelId: string;
  quant: string;
  modelPath: string;
  /** OpenAI-compatible base URL, ending in /v1. */
  endpoint: string;
  startedAt: string;
  /** Embedded engine: the server process and its log. */
  pid?: number;
  port?: number;
  logFile?: string;
  /** Kamiwaza engine: ids on the Kamiwaza side. */
  kamiwaza?: { baseUrl: string; deploymentId: string; modelId: string };
}

/**
 * running: answering requests; starting: loading or deploying; stopped: gone; failed: crashed or refused;
 * unknown: the engine could not be asked (Kamiwaza unreachable).
 */
export type LiveStatus = 'running' | 'starting' | 'stopped' | 'failed' | 'unknown';

export interface LiveDeployment extends DeploymentRecord {
  status: LiveStatus;
  /** Why it failed, when the engine can tell. */
  detail?: string;
}

/** Progress of a start, for bars and plain lines; `percent` only when the engine knows it. */
export interface EngineEvent {
  phase: 'download' | 'register' | 'deploy' | 'load' | 'ready';
  message: string;
  percent?: number;
}

export interface Engine {
  readonly kind: EngineKind;
  /** Starts serving and resolves once the endpoint answers; rejects with an EngineError that says why not. */
  start(spec: DeploymentSpec, onEvent?: (event: EngineEvent) => void): Promise<DeploymentRecord>;
  /** Live status of deployments this engine started. */
  list(records: DeploymentRecord[]): Promise<LiveDeployment[]>;
  /** Stops a deployment and resolves once it is gone; stopping one that is already gone is not an error. */
  stop(record: DeploymentRecord): Promise<void>;
}
